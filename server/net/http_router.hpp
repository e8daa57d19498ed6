// What an HTTP request gets, decided without a socket: a reply (the embedded page, a refusal), a
// WebSocket upgrade, or an admin action the session carries out on the room's strand. The
// sessions (http_session.cpp) only move bytes; the fuzz target and the path tests call route()
// directly.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string_view>

#include "console_sessions.hpp"
#include "floor_control.hpp"
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
  const ConsoleSessions* consoles = nullptr;  // the console's logins; none: no console
  std::string_view join_qr_svg = {};          // GET /join-qr.svg (the students' address); empty: 404
  bool room_code_required = false;            // GET /room.json tells the join form to ask for the code
};

enum class RouteKind {
  reply, websocket, admin_status, admin_revoke, admin_recordings, admin_recording, admin_action,
  console_login,      // POST /console/login with the admin token as its body: the session sets the cookie
  console_logout,     // POST /console/logout
  console_websocket,  // the console's live channel, /console/ws, for a logged-in browser
  admin_log,          // GET /admin/log.csv: the session log
};

// The professor's floor actions besides revoke (POST /admin/grant?client=ID, /admin/dequeue?client=ID,
// /admin/remove?client=ID, /admin/mode?mode=first_come|queue|moderated).
enum class AdminAction { grant, dequeue, remove, mode };

struct Route {
  RouteKind kind = RouteKind::reply;
  HttpReply reply;  // kind == reply
  std::uint32_t recording_id = 0;  // kind == admin_recording: an id from the listing
  AdminAction action = AdminAction::grant;  // kind == admin_action
  std::uint32_t client = 0;                 // grant, dequeue, remove: the student's id (/admin/status)
  FloorMode mode = FloorMode::first_come;   // mode
  std::string console_session;              // console_websocket, console_logout: the cookie's login
};

Route route(const HttpRequest& req, const RouterContext& context);

// Plain HTTP on the TLS port (docs/PROTOCOL.md section 1). With `help_page`, GET or HEAD of `/`
// gets the certificate help page (web/welcome.html), whose link goes on to the https address with
// the room code it was given; everything else is redirected to https at the same path.
HttpReply plain_http_reply(const HttpRequest& req, const RouterContext& context, bool help_page);

// A short text reply with the server's usual headers.
HttpReply text_reply(const HttpRequest& req, http::status status, std::string body,
                     std::string_view type = "text/plain; charset=utf-8");

// {"recordings":[{"id":1,"file":"Ana-1.opus","speaker":"Ana",...}]} for /admin/recordings
// (recordings_json.cpp).
std::string recordings_json(const std::vector<RecordingEntry>& entries);

}  // namespace ptt::server
