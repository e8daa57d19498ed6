#include "websocket_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <vector>

#include "peer.hpp"
#include "ptt/protocol.hpp"

namespace ptt::server {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

template <class Derived>
class WebSocketSession : public Peer {
 public:
  static constexpr std::size_t kReadLimit = 16 * 1024;  // see run()

  explicit WebSocketSession(std::shared_ptr<SharedState> state) : state_(std::move(state)) {}

  ~WebSocketSession() override {
    // The room keeps only a weak reference: tell it the connection is gone.
    if (id_ != 0) {
      state_->with_room([id = id_](Room& room) { room.disconnect(id, Clock::now()); });
    }
  }

  void run(UpgradeRequest&& req) {
    auto& ws = derived().ws();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "ptt-server"); }));
    // Beast's own refusal of a too-big message closes the socket with the rest of the message
    // unread, and the reset can destroy the 1009 close frame before the client reads it. So messages
    // up to kReadLimit are read whole and refused in on_read with a proper close handshake; only
    // larger ones are left to Beast.
    ws.read_message_max(kReadLimit);
    ws.async_accept(req, beast::bind_front_handler(&WebSocketSession::on_accept, derived().shared_from_this()));
  }

  // Peer: called from the room's strand; hops onto this session's strand.
  void send(std::shared_ptr<const std::string> text) override {
    net::post(derived().ws().get_executor(), [self = derived().shared_from_this(), text = std::move(text)]() mutable {
      self->on_send(std::move(text));
    });
  }

  void close(std::uint16_t code, std::string_view reason) override {
    net::post(derived().ws().get_executor(),
              [self = derived().shared_from_this(), code, reason = std::string(reason.substr(0, 120))] {
                self->on_close_request(code, reason);
              });
  }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }

  void on_accept(beast::error_code ec) {
    if (ec) return;
    beast::error_code ignored;
    auto address = beast::get_lowest_layer(derived().ws()).socket().remote_endpoint(ignored).address().to_string();
    state_->with_room([self = derived().shared_from_this(), address = std::move(address)](Room& room) mutable {
      const ClientId id = room.connect(std::weak_ptr<Peer>(self), Clock::now(), std::move(address));
      net::post(self->ws().get_executor(), [self, id] { self->on_registered(id); });
    });
  }

  void on_registered(ClientId id) {
    if (id == 0) {
      on_send(std::make_shared<const std::string>(protocol::encode_control(
          protocol::Error{protocol::ErrorCode::server_full, "the room is full; try again later"})));
      on_close_request(close_code::try_again_later, "server full");
      return;
    }
    id_ = id;
    do_read();
  }

  void do_read() {
    derived().ws().async_read(buffer_, beast::bind_front_handler(&WebSocketSession::on_read, derived().shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return;  // closed, failed or refused (too big, bad UTF-8): the destructor tells the room
    if (buffer_.size() > protocol::kMaxAudioFrame) {
      buffer_.consume(buffer_.size());
      on_close_request(static_cast<std::uint16_t>(websocket::close_code::too_big), "message too big");
      return;  // no more reads: the close handshake reads the client's reply
    }
    const auto arrival = Clock::now();
    const auto data = buffer_.cdata();
    if (derived().ws().got_text()) {
      state_->with_room([id = id_, arrival, text = beast::buffers_to_string(data)](Room& room) {
        room.on_text(id, text, arrival);
      });
    } else {
      const auto* p = static_cast<const std::uint8_t*>(data.data());
      state_->with_room([id = id_, arrival, bytes = std::vector<std::uint8_t>(p, p + data.size())](Room& room) {
        room.on_binary(id, bytes.data(), bytes.size(), arrival);
      });
    }
    buffer_.consume(buffer_.size());
    do_read();
  }

  void on_send(std::shared_ptr<const std::string> text) {
    if (closing_) return;
    queued_bytes_ += text->size();
    if (queued_bytes_ > state_->config().max_queued_bytes) {
      // A reader this slow cannot take a close frame either: drop the connection.
      spdlog::warn("client {}: {} bytes waiting to be sent; dropping a reader that does not keep up", id_, queued_bytes_);
      closing_ = true;
      beast::get_lowest_layer(derived().ws()).close();
      return;
    }
    queue_.push_back(std::move(text));
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    derived().ws().text(true);
    derived().ws().async_write(net::buffer(*queue_.front()),
                               beast::bind_front_handler(&WebSocketSession::on_write, derived().shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return;
    queued_bytes_ -= queue_.front()->size();
    queue_.pop_front();
    if (!queue_.empty()) do_write();
    else if (closing_) do_close();
  }

  void on_close_request(std::uint16_t code, const std::string& reason) {
    if (closing_) return;
    closing_ = true;
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    if (!writing_) do_close();  // else after the queue (e.g. the error explaining the close) is out
  }

  void do_close() {
    derived().ws().async_close(close_reason_, [self = derived().shared_from_this()](beast::error_code) {});
  }

  std::shared_ptr<SharedState> state_;
  beast::flat_buffer buffer_;
  ClientId id_ = 0;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false, closing_ = false;
  websocket::close_reason close_reason_;
};

class PlainWebSocketSession : public WebSocketSession<PlainWebSocketSession>,
                              public std::enable_shared_from_this<PlainWebSocketSession> {
 public:
  PlainWebSocketSession(beast::tcp_stream&& stream, std::shared_ptr<SharedState> state)
      : WebSocketSession(std::move(state)), ws_(std::move(stream)) {}
  websocket::stream<beast::tcp_stream>& ws() { return ws_; }

 private:
  websocket::stream<beast::tcp_stream> ws_;
};

class SslWebSocketSession : public WebSocketSession<SslWebSocketSession>,
                            public std::enable_shared_from_this<SslWebSocketSession> {
 public:
  SslWebSocketSession(beast::ssl_stream<beast::tcp_stream>&& stream, std::shared_ptr<SharedState> state)
      : WebSocketSession(std::move(state)), ws_(std::move(stream)) {}
  websocket::stream<beast::ssl_stream<beast::tcp_stream>>& ws() { return ws_; }

 private:
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
};

}  // namespace

void run_websocket_session(beast::tcp_stream&& stream, UpgradeRequest&& req, std::shared_ptr<SharedState> state) {
  std::make_shared<PlainWebSocketSession>(std::move(stream), std::move(state))->run(std::move(req));
}

void run_websocket_session(beast::ssl_stream<beast::tcp_stream>&& stream, UpgradeRequest&& req,
                           std::shared_ptr<SharedState> state) {
  std::make_shared<SslWebSocketSession>(std::move(stream), std::move(state))->run(std::move(req));
}

}  // namespace ptt::server
