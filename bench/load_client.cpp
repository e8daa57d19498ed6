// Asynchronous Beast client over TLS: connect, TLS handshake, WebSocket upgrade, join, then a read
// loop that answers pings and notes floor messages; writes are queued (one async_write at a time).
#include "load_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace ptt::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace proto = ptt::protocol;
using tcp = net::ip::tcp;

namespace {
std::uint64_t wall_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}
}  // namespace

struct LoadClient::Impl {
  Impl(net::io_context& ioc, net::ssl::context& tls) : ws(net::make_strand(ioc), tls) {}
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws;
  beast::flat_buffer buffer;
  std::uint16_t port = 0;
  std::string join_text;
};

LoadClient::LoadClient(net::io_context& ioc, net::ssl::context& tls, std::uint16_t port, std::string name)
    : impl_(std::make_unique<Impl>(ioc, tls)) {
  impl_->port = port;
  impl_->join_text = proto::encode_control(proto::Join{std::move(name), ""});
}

LoadClient::~LoadClient() = default;

void LoadClient::fail() {
  if (!seen_.joined) seen_.failed = true;
  seen_.closed = true;
}

void LoadClient::start() {
  auto self = shared_from_this();
  auto& ws = impl_->ws;
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(30));
  beast::get_lowest_layer(ws).async_connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), impl_->port), [self](beast::error_code ec) {
        if (ec) return self->fail();
        // As a browser does: no Nagle delay on small messages (else 40 ms delayed-ACK stalls).
        beast::error_code opt_ec;
        beast::get_lowest_layer(self->impl_->ws).socket().set_option(tcp::no_delay(true), opt_ec);
        self->impl_->ws.next_layer().async_handshake(net::ssl::stream_base::client, [self](beast::error_code ec) {
          if (ec) return self->fail();
          beast::get_lowest_layer(self->impl_->ws).expires_never();
          self->impl_->ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
          self->impl_->ws.async_handshake("localhost", "/ws", [self](beast::error_code ec) {
            if (ec) return self->fail();
            self->outbox_.push_back(self->impl_->join_text);
            self->write_next();
            self->read();
          });
        });
      });
}

void LoadClient::read() {
  auto self = shared_from_this();
  impl_->ws.async_read(impl_->buffer, [self](beast::error_code ec, std::size_t) {
    if (ec) return self->fail();
    const auto text = beast::buffers_to_string(self->impl_->buffer.data());
    self->impl_->buffer.consume(self->impl_->buffer.size());
    self->on_text(text);
    self->read();
  });
}

void LoadClient::on_text(const std::string& text) {
  proto::ControlMessage m;
  if (proto::decode_control(text, m) != proto::ErrorCode::ok) return;
  const auto now = Clock::now();
  if (auto* ping = std::get_if<proto::Ping>(&m)) {
    const auto t = wall_us();
    send(proto::Pong{ping->t0, t, t});
  } else if (auto* w = std::get_if<proto::Welcome>(&m)) {
    seen_.joined = true;
    seen_.name = w->name;
  } else if (auto* g = std::get_if<proto::FloorGranted>(&m)) {
    seen_.granted_at = now;
    seen_.talk_id = g->talk_id;
  } else if (auto* d = std::get_if<proto::FloorDenied>(&m)) {
    seen_.denied_at = now;
    seen_.deny_reason = d->reason;
    seen_.deny_holder = d->holder;
  } else if (auto* s = std::get_if<proto::FloorState>(&m)) {
    ++seen_.floor_states;
    (s->taken ? seen_.state_taken_at : seen_.state_free_at) = now;
  }
}

void LoadClient::send(const proto::ControlMessage& msg) {
  outbox_.push_back(proto::encode_control(msg));
  if (!writing_) write_next();
}

void LoadClient::write_next() {
  if (outbox_.empty() || seen_.closed) {
    writing_ = false;
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  impl_->ws.text(true);
  impl_->ws.async_write(net::buffer(outbox_.front()), [self](beast::error_code ec, std::size_t) {
    self->outbox_.pop_front();
    if (ec) return self->fail();
    self->write_next();
  });
}

void LoadClient::close() {
  auto self = shared_from_this();
  seen_.closed = true;
  impl_->ws.async_close(websocket::close_code::normal, [self](beast::error_code) {});
}

}  // namespace ptt::bench
