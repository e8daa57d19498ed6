#include "ws_test_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <stdexcept>
#include <variant>

namespace ptt::server::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {
void set_receive_buffer(net::ip::tcp::socket& socket, int bytes) {
  if (bytes <= 0) return;
  socket.open(net::ip::tcp::v4());
  socket.set_option(net::socket_base::receive_buffer_size(bytes));
}
}  // namespace

struct WsTestClient::Impl {
  net::io_context ioc;
  net::ssl::context ssl_ctx{net::ssl::context::tls_client};
  std::variant<std::monostate, websocket::stream<beast::tcp_stream>,
               websocket::stream<beast::ssl_stream<beast::tcp_stream>>> ws;
  beast::flat_buffer buffer;

  template <typename F>
  decltype(auto) visit(F&& f) {
    if (auto* p = std::get_if<1>(&ws)) return f(*p);
    return f(std::get<2>(ws));
  }
};

WsTestClient::WsTestClient(std::uint16_t port, Options options) : impl_(std::make_unique<Impl>()) {
  net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
  auto decorate = [options](websocket::request_type& req) {
    if (!options.origin.empty()) req.set(beast::http::field::origin, options.origin);
  };
  const std::string host = "localhost:" + std::to_string(port);
  if (options.tls) {
    impl_->ssl_ctx.set_verify_mode(net::ssl::verify_none);  // the server's own self-signed certificate
    auto& ws = impl_->ws.emplace<2>(impl_->ioc, impl_->ssl_ctx);
    set_receive_buffer(beast::get_lowest_layer(ws).socket(), options.receive_buffer);
    beast::get_lowest_layer(ws).connect(ep);
    beast::get_lowest_layer(ws).socket().set_option(net::ip::tcp::no_delay(true));
    ws.next_layer().handshake(net::ssl::stream_base::client);
    ws.set_option(websocket::stream_base::decorator(decorate));
    ws.handshake(host, options.target);
  } else {
    auto& ws = impl_->ws.emplace<1>(impl_->ioc);
    set_receive_buffer(beast::get_lowest_layer(ws).socket(), options.receive_buffer);
    beast::get_lowest_layer(ws).connect(ep);
    beast::get_lowest_layer(ws).socket().set_option(net::ip::tcp::no_delay(true));
    ws.set_option(websocket::stream_base::decorator(decorate));
    ws.handshake(host, options.target);
  }
  impl_->visit([](auto& ws) { ws.read_message_max(64 * 1024); });
}

WsTestClient::~WsTestClient() {
  if (!closed_with) abort();
}

void WsTestClient::send(const protocol::ControlMessage& msg) { send_text(protocol::encode_control(msg)); }

void WsTestClient::send_text(const std::string& text) {
  impl_->visit([&](auto& ws) {
    ws.text(true);
    beast::error_code ec;
    ws.write(net::buffer(text), ec);
  });
}

void WsTestClient::send_binary(const std::vector<std::uint8_t>& bytes) {
  impl_->visit([&](auto& ws) {
    ws.binary(true);
    beast::error_code ec;
    ws.write(net::buffer(bytes), ec);
  });
}

Received WsTestClient::read(std::chrono::milliseconds timeout) {
  Received r;
  if (closed_with) {
    r.kind = Received::closed;
    r.close_code = *closed_with;
    return r;
  }
  bool done = false;
  beast::error_code result;
  impl_->visit([&](auto& ws) {
    ws.async_read(impl_->buffer, [&](beast::error_code ec, std::size_t) {
      done = true;
      result = ec;
    });
    impl_->ioc.restart();
    impl_->ioc.run_for(timeout);
    if (!done) {
      // Give up on this read: cancel it and let the handler run. The stream is not used again.
      beast::get_lowest_layer(ws).cancel();
      impl_->ioc.restart();
      impl_->ioc.run();
      closed_with = 0;
      return;
    }
    if (result) {
      closed_with = static_cast<std::uint16_t>(ws.reason().code);
      return;
    }
    r.kind = ws.got_text() ? Received::text : Received::binary;
    r.data = beast::buffers_to_string(impl_->buffer.data());
    impl_->buffer.consume(impl_->buffer.size());
  });
  if (!done) return r;  // timeout
  if (result) {
    r.kind = Received::closed;
    r.close_code = *closed_with;
  }
  return r;
}

std::optional<protocol::ControlMessage> WsTestClient::next_control(std::chrono::milliseconds timeout) {
  while (true) {
    auto r = read(timeout);
    if (r.kind != Received::text) return std::nullopt;
    protocol::ControlMessage m;
    if (protocol::decode_control(r.data, m) != protocol::ErrorCode::ok)
      throw std::runtime_error("server sent an invalid message: " + r.data);
    if (auto* ping = std::get_if<protocol::Ping>(&m)) {
      if (answer_pings) send(protocol::Pong{ping->t0, ping->t0, ping->t0});
      continue;
    }
    if (auto* s = std::get_if<protocol::FloorState>(&m)) last_floor = *s;
    if (auto* w = std::get_if<protocol::Welcome>(&m)) last_floor = w->floor;
    return m;
  }
}

std::uint16_t WsTestClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_with) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    if (read(left).kind == Received::timeout) return 0;
  }
  return *closed_with;
}

void WsTestClient::close() {
  impl_->visit([&](auto& ws) {
    beast::error_code ec;
    ws.close(websocket::close_code::normal, ec);
  });
  closed_with = 1000;
}

void WsTestClient::abort() {
  impl_->visit([&](auto& ws) {
    beast::error_code ec;
    beast::get_lowest_layer(ws).socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws).socket().close(ec);
  });
  closed_with = 0;
}

protocol::Welcome join(WsTestClient& c, const std::string& name, const std::string& room) {
  c.send(protocol::Join{name, room});
  auto w = c.expect<protocol::Welcome>();
  if (!w) throw std::runtime_error("no welcome for " + name);
  return *w;
}

}  // namespace ptt::server::test

namespace ptt::server::test {

HttpResult http_request(std::uint16_t port, bool tls, const std::string& method, const std::string& raw_target,
                        const std::string& authorization, const std::string& host) {
  namespace http = beast::http;
  net::io_context ioc;
  http::request<http::string_body> req{http::string_to_verb(method), raw_target, 11};
  req.set(http::field::host, host.empty() ? "localhost:" + std::to_string(port) : host);
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  req.prepare_payload();
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  const net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
  if (tls) {
    net::ssl::context ctx{net::ssl::context::tls_client};
    ctx.set_verify_mode(net::ssl::verify_none);
    beast::ssl_stream<beast::tcp_stream> s(ioc, ctx);
    beast::get_lowest_layer(s).connect(ep);
    s.handshake(net::ssl::stream_base::client);
    http::write(s, req);
    http::read(s, buffer, res);
  } else {
    beast::tcp_stream s(ioc);
    s.connect(ep);
    http::write(s, req);
    http::read(s, buffer, res);
  }
  return {static_cast<int>(res.result_int()), res.body(), std::string(res[http::field::location]),
          std::string(res[http::field::content_type])};
}

}  // namespace ptt::server::test
