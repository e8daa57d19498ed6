// The WebSocket session's body, shared by its two instantiations: websocket_session_plain.cpp
// (ws://, --plain-http) and websocket_session_tls.cpp (wss://). Each is compiled on its own so the
// two cores build them at once: together they were the longest translation unit of every build.
// Only those two files include this header.
#pragma once

#include "websocket_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <algorithm>
#include <deque>
#include <vector>

#include "fail.hpp"
#include "peer.hpp"
#include "ptt/protocol.hpp"

namespace ptt::server::detail {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

template <class Derived>
class WebSocketSession : public Peer {
 public:
  WebSocketSession(std::shared_ptr<SharedState> state, std::string console_session)
      : state_(std::move(state)), console_session_(std::move(console_session)) {}

  ~WebSocketSession() override {
    // The room keeps only a weak reference: tell it the connection is gone.
    if (id_ != 0) {
      if (console()) state_->with_room([id = id_](Room& room) { room.disconnect_console(id); });
      else state_->with_room([id = id_](Room& room) { room.disconnect(id, Clock::now()); });
    }
  }

  void run(UpgradeRequest&& req) {
    auto& ws = derived().ws();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "ptt-server"); }));
    // Beast's own limit is out of the way (0: none): its refusal of a too-big message would close
    // the connection without the `error` that must come first, with the rest of the message unread
    // (the reset can destroy the close frame before the client reads it). The session reads each
    // message piece by piece instead and refuses it itself, once it passes its limit (do_read).
    ws.read_message_max(0);
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
  bool console() const noexcept { return !console_session_.empty(); }

  void on_accept(beast::error_code ec) {
    if (ec) return fail(ec, "websocket accept");
    if (console()) {
      state_->with_room([self = derived().shared_from_this()](Room& room) {
        const ClientId id = room.connect_console(std::weak_ptr<Peer>(self), Clock::now(), self->console_session_);
        net::post(self->ws().get_executor(), [self, id] { self->on_registered(id, {}); });
      });
      return;
    }
    beast::error_code ignored;
    auto address = beast::get_lowest_layer(derived().ws()).socket().remote_endpoint(ignored).address().to_string();
    state_->with_room([self = derived().shared_from_this(), address = std::move(address)](Room& room) mutable {
      protocol::Error refusal;
      const ClientId id = room.connect(std::weak_ptr<Peer>(self), Clock::now(), std::move(address), &refusal);
      net::post(self->ws().get_executor(), [self, id, refusal = std::move(refusal)] { self->on_registered(id, refusal); });
    });
  }

  void on_registered(ClientId id, const protocol::Error& refusal) {
    if (id == 0) {  // the room is full, or this address has its share of it
      on_send(std::make_shared<const std::string>(protocol::encode_control(refusal)));
      on_close_request(close_code::try_again_later, refusal.code == protocol::ErrorCode::server_full ? "server full" : "too many connections");
      return;
    }
    id_ = id;
    do_read();
  }

  // A message is read in pieces into buffer_, which holds what has arrived of the current message
  // (it is emptied when a message is handed on). Each read may add at most one byte more than the
  // message's limit allows, so the buffer never holds more than limit + 1 bytes, however large the
  // message: past its limit the message is refused without reading further. Before the first piece
  // the type is unknown, so the first read is bounded by the smaller (text) limit.
  static constexpr std::size_t limit_for(bool text) noexcept {
    return text ? protocol::kMaxControlMessage : protocol::kMaxAudioFrame;
  }

  void do_read() {
    auto& ws = derived().ws();
    const bool started = buffer_.size() > 0;  // (got_text() describes the current message only then)
    const std::size_t limit = started ? limit_for(ws.got_text()) : std::min(limit_for(true), limit_for(false));
    ws.async_read_some(buffer_, limit + 1 - buffer_.size(),
                       beast::bind_front_handler(&WebSocketSession::on_read, derived().shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    // Closed or failed, and invalid UTF-8 in a text message, which Beast fails at once with 1007
    // (RFC 6455 section 8.1) before this code sees it: the destructor tells the room.
    if (ec) return fail(ec, "websocket read");
    auto& ws = derived().ws();
    const bool text = ws.got_text();
    if (buffer_.size() > limit_for(text)) {
      refuse_too_large(text);
      return;
    }
    if (!ws.is_message_done()) {
      do_read();
      return;
    }
    const auto arrival = Clock::now();
    const auto data = buffer_.cdata();
    if (console()) {
      // Each action is checked against the login again: after a logout nothing more is carried out.
      if (!text || !state_->consoles().valid(console_session_)) {
        buffer_.consume(buffer_.size());
        on_send(std::make_shared<const std::string>(
            text ? R"({"type":"error","message":"logged out: log in again"})" : R"({"type":"error","message":"text only"})"));
        on_close_request(close_code::policy, text ? "logged out" : "text only");
        return;
      }
      state_->with_room([id = id_, arrival, text = beast::buffers_to_string(data)](Room& room) {
        room.on_console_text(id, text, arrival);
      });
    } else if (text) {
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

  // docs/PROTOCOL.md section 5: `too_large`, then close 1009. No more reads: the close handshake
  // (Beast's async_close) reads and discards the rest of the message and whatever follows until the
  // client's close frame, within the websocket's handshake timeout; nothing is accumulated.
  void refuse_too_large(bool text) {
    buffer_.consume(buffer_.size());
    on_send(std::make_shared<const std::string>(protocol::encode_control(protocol::Error{
        protocol::ErrorCode::too_large, text ? "text messages are at most 1024 bytes"
                                             : "binary messages are at most 1295 bytes"})));
    on_close_request(close_code::too_big, "message too big");
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
    if (ec) return fail(ec, "websocket write");
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
    derived().ws().async_close(close_reason_, [self = derived().shared_from_this()](beast::error_code ec) {
      if (ec) fail(ec, "websocket close");
    });
  }

  std::shared_ptr<SharedState> state_;
  std::string console_session_;  // empty: a student
  beast::flat_buffer buffer_;
  ClientId id_ = 0;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false, closing_ = false;
  websocket::close_reason close_reason_;
};

}  // namespace ptt::server::detail
