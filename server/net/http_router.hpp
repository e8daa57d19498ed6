// What an HTTP request gets, decided without a socket: a reply (the embedded page, a refusal), a
// WebSocket upgrade, or an admin action the session carries out on the room's strand. The
// sessions (http_session.cpp) only move bytes; the fuzz target and the path tests call route()
// directly.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string_view>

#include "origin_policy.hpp"
#include "recording_catalog.hpp"
#include "static_files.hpp"

namespace ptt::server {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpReply = http::response<http::string_body>;

struct RouterContext {
  const StaticFiles& files;
  const OriginPolicy& origins;
  std::string_view admin_token;  // empty: admin endpoints refused
};

enum class RouteKind { reply, websocket, admin_status, admin_revoke, admin_recordings, admin_recording };

struct Route {
  RouteKind kind = RouteKind::reply;
  HttpReply reply;  // kind == reply
  std::uint32_t recording_id = 0;  // kind == admin_recording: an id from the listing
};

Route route(const HttpRequest& req, const RouterContext& context);

// A short text reply with the server's usual headers.
HttpReply text_reply(const HttpRequest& req, http::status status, std::string body,
                     std::string_view type = "text/plain; charset=utf-8");

// {"recordings":[{"id":1,"file":"Ana-1.opus","speaker":"Ana",...}]} for /admin/recordings
// (recordings_json.cpp).
std::string recordings_json(const std::vector<RecordingEntry>& entries);

}  // namespace ptt::server
