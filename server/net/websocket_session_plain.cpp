// The WebSocket session over plain TCP (ws://, with --plain-http).
#include "websocket_session_impl.hpp"

namespace ptt::server {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using detail::WebSocketSession;

class PlainWebSocketSession : public WebSocketSession<PlainWebSocketSession>,
                              public std::enable_shared_from_this<PlainWebSocketSession> {
 public:
  PlainWebSocketSession(beast::tcp_stream&& stream, std::shared_ptr<SharedState> state,
                        std::string console_session)
      : WebSocketSession(std::move(state), std::move(console_session)), ws_(std::move(stream)) {}
  websocket::stream<beast::tcp_stream>& ws() { return ws_; }

 private:
  websocket::stream<beast::tcp_stream> ws_;
};

}  // namespace

void run_websocket_session(beast::tcp_stream&& stream, UpgradeRequest&& req, std::shared_ptr<SharedState> state,
                           std::string console_session) {
  std::make_shared<PlainWebSocketSession>(std::move(stream), std::move(state), std::move(console_session))
      ->run(std::move(req));
}

}  // namespace ptt::server
