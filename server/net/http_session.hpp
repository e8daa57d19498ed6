// HTTP sessions: serve the student page and the wasm client, the professor's /admin endpoints, and
// upgrade /ws to a WebSocket session.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>

#include "shared_state.hpp"

namespace ptt::server {

// redirect_to_https: answer every request with a redirect to the same URL over https.
void run_http_session(boost::beast::tcp_stream&& stream, boost::beast::flat_buffer&& buffer,
                      std::shared_ptr<SharedState> state, bool redirect_to_https);
void run_https_session(boost::beast::tcp_stream&& stream, net::ssl::context& tls, boost::beast::flat_buffer&& buffer,
                       std::shared_ptr<SharedState> state);

}  // namespace ptt::server
