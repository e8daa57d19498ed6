// The WebSocket session: one student's connection, or the professor's console (`console_session`
// not empty: the login it was opened with, checked again before each action). A thin transport: it
// hands every message to the room's strand and writes what the room sends, one frame at a time.
// The one rule it enforces itself is the size limit, as a message arrives: one over it is refused
// (`too_large`, close 1009) without being read further.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>

#include "shared_state.hpp"

namespace ptt::server {

using UpgradeRequest = boost::beast::http::request<boost::beast::http::string_body>;

void run_websocket_session(boost::beast::tcp_stream&& stream, UpgradeRequest&& req, std::shared_ptr<SharedState> state,
                           std::string console_session = {});
void run_websocket_session(boost::beast::ssl_stream<boost::beast::tcp_stream>&& stream, UpgradeRequest&& req,
                           std::shared_ptr<SharedState> state, std::string console_session = {});

}  // namespace ptt::server
