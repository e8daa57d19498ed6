// The WebSocket session over TLS (wss://), the default.
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "websocket_session_impl.hpp"

namespace ptt::server {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using detail::WebSocketSession;

class SslWebSocketSession : public WebSocketSession<SslWebSocketSession>,
                            public std::enable_shared_from_this<SslWebSocketSession> {
 public:
  SslWebSocketSession(beast::ssl_stream<beast::tcp_stream>&& stream, std::shared_ptr<SharedState> state,
                      std::string console_session)
      : WebSocketSession(std::move(state), std::move(console_session)), ws_(std::move(stream)) {}
  websocket::stream<beast::ssl_stream<beast::tcp_stream>>& ws() { return ws_; }

 private:
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
};

}  // namespace

void run_websocket_session(beast::ssl_stream<beast::tcp_stream>&& stream, UpgradeRequest&& req,
                           std::shared_ptr<SharedState> state, std::string console_session) {
  std::make_shared<SslWebSocketSession>(std::move(stream), std::move(state), std::move(console_session))
      ->run(std::move(req));
}

}  // namespace ptt::server
