#include "http_session.hpp"

#include <openssl/crypto.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <optional>

#include "websocket_session.hpp"

namespace ptt::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Request = http::request<http::string_body>;

std::string_view mime_type(std::string_view path) {
  const auto dot = path.rfind('.');
  const auto ext = dot == std::string_view::npos ? std::string_view{} : path.substr(dot);
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".wasm") return "application/wasm";
  if (ext == ".json" || ext == ".webmanifest") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// The file a URL path names, or nullopt if the path could reach outside the served folders.
std::optional<std::filesystem::path> resolve(const ServerConfig& config, std::string_view target) {
  const auto query = target.find('?');
  if (query != std::string_view::npos) target = target.substr(0, query);
  if (target.empty() || target[0] != '/' || target.find("..") != std::string_view::npos ||
      target.find('\\') != std::string_view::npos || target.find('\0') != std::string_view::npos ||
      target.find('%') != std::string_view::npos)
    return std::nullopt;
  if (target == "/") return config.web_root / "index.html";
  constexpr std::string_view wasm_prefix = "/wasm/";
  if (target.substr(0, wasm_prefix.size()) == wasm_prefix) {
    if (config.wasm_dir.empty()) return std::nullopt;
    return config.wasm_dir / std::string(target.substr(wasm_prefix.size()));
  }
  return config.web_root / std::string(target.substr(1));
}

// Same-origin check for the WebSocket upgrade: the page's origin must be the host it asked.
// Non-browser clients send no Origin; browsers always do, so a foreign page cannot connect.
bool origin_allowed(const ServerConfig& config, const Request& req) {
  const auto origin = req[http::field::origin];
  if (origin.empty()) return true;
  for (const auto& o : config.extra_origins)
    if (origin == o) return true;
  const std::string expected = std::string(config.tls ? "https://" : "http://") + std::string(req[http::field::host]);
  return origin == expected;
}

http::message_generator text_response(const Request& req, http::status status, std::string body,
                                      std::string_view type = "text/plain; charset=utf-8") {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "ptt-server");
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

bool admin_authorised(const ServerConfig& config, const Request& req) {
  const auto auth = req[http::field::authorization];
  constexpr std::string_view bearer = "Bearer ";
  if (config.admin_token.empty() || auth.size() != bearer.size() + config.admin_token.size() ||
      auth.substr(0, bearer.size()) != bearer)
    return false;
  return CRYPTO_memcmp(auth.data() + bearer.size(), config.admin_token.data(), config.admin_token.size()) == 0;
}

template <class Derived>
class HttpSession {
 public:
  HttpSession(beast::flat_buffer&& buffer, std::shared_ptr<SharedState> state)
      : buffer_(std::move(buffer)), state_(std::move(state)) {}

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    parser_->body_limit(8 * 1024);
    beast::get_lowest_layer(derived().stream()).expires_after(state_->config().handshake_timeout);
    http::async_read(derived().stream(), buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, derived().shared_from_this()));
  }

  beast::flat_buffer buffer_;
  std::shared_ptr<SharedState> state_;

 private:
  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return derived().do_eof();
    if (ec) return;  // timeout, reset, or a request over the limits: drop the connection
    Request req = parser_->release();
    if (derived().redirect_to_https()) return send(redirect(req));
    if (beast::websocket::is_upgrade(req)) {
      if (req.target() != "/ws") return send(text_response(req, http::status::not_found, "no WebSocket here\n"));
      if (!origin_allowed(state_->config(), req))
        return send(text_response(req, http::status::forbidden, "foreign origin\n"));
      beast::get_lowest_layer(derived().stream()).expires_never();
      return run_websocket_session(derived().release_stream(), std::move(req), state_);
    }
    if (req.target().starts_with("/admin/")) return admin(std::move(req));
    send(serve_file(req));
  }

  http::message_generator redirect(const Request& req) {
    http::response<http::string_body> r{http::status::moved_permanently, req.version()};
    r.set(http::field::location, "https://" + std::string(req[http::field::host]) + std::string(req.target()));
    r.set(http::field::server, "ptt-server");
    r.keep_alive(false);
    r.prepare_payload();
    return r;
  }

  http::message_generator serve_file(const Request& req) {
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return text_response(req, http::status::method_not_allowed, "GET or HEAD only\n");
    if (req.target() == "/healthz") return text_response(req, http::status::ok, "ok\n");
    const auto path = resolve(state_->config(), req.target());
    if (!path) return text_response(req, http::status::bad_request, "bad path\n");
    beast::error_code ec;
    http::file_body::value_type body;
    body.open(path->c_str(), beast::file_mode::scan, ec);
    if (ec) return text_response(req, http::status::not_found, "not found\n");
    const auto size = body.size();
    const std::string type(mime_type(path->native()));
    auto headers = [&](auto& res) {
      res.set(http::field::server, "ptt-server");
      res.set(http::field::content_type, type);
      res.set(http::field::cache_control, "no-cache");
      res.set("X-Content-Type-Options", "nosniff");
      res.content_length(size);
      res.keep_alive(req.keep_alive());
    };
    if (req.method() == http::verb::head) {
      http::response<http::empty_body> res{http::status::ok, req.version()};
      headers(res);
      return res;
    }
    http::response<http::file_body> res{std::piecewise_construct, std::make_tuple(std::move(body)),
                                        std::make_tuple(http::status::ok, req.version())};
    headers(res);
    return res;
  }

  // GET /admin/status, POST /admin/revoke: answered from the room's strand.
  void admin(Request&& req) {
    if (!admin_authorised(state_->config(), req))
      return send(text_response(req, http::status::unauthorized, "admin token required (Authorization: Bearer ...)\n"));
    const bool status = req.target() == "/admin/status" && req.method() == http::verb::get;
    const bool revoke = req.target() == "/admin/revoke" && req.method() == http::verb::post;
    if (!status && !revoke) return send(text_response(req, http::status::not_found, "unknown admin action\n"));
    state_->with_room([self = derived().shared_from_this(), req = std::move(req), revoke](Room& room) mutable {
      if (revoke) room.revoke_floor(Clock::now());
      std::string body = room.status_json();
      net::post(beast::get_lowest_layer(self->stream()).get_executor(),
                [self, req = std::move(req), body = std::move(body)]() mutable {
                  self->send(text_response(req, http::status::ok, std::move(body), "application/json"));
                });
    });
  }

 public:
  void send(http::message_generator&& msg) {
    const bool keep_alive = msg.keep_alive();
    beast::async_write(derived().stream(), std::move(msg),
                       beast::bind_front_handler(&HttpSession::on_write, derived().shared_from_this(), keep_alive));
  }

 private:
  void on_write(bool keep_alive, beast::error_code ec, std::size_t) {
    if (ec) return;
    if (!keep_alive) return derived().do_eof();
    do_read();
  }

  std::optional<http::request_parser<http::string_body>> parser_;
};

class PlainHttpSession : public HttpSession<PlainHttpSession>, public std::enable_shared_from_this<PlainHttpSession> {
 public:
  PlainHttpSession(beast::tcp_stream&& stream, beast::flat_buffer&& buffer, std::shared_ptr<SharedState> state,
                   bool redirect)
      : HttpSession(std::move(buffer), std::move(state)), stream_(std::move(stream)), redirect_(redirect) {}

  void run() { do_read(); }
  beast::tcp_stream& stream() { return stream_; }
  beast::tcp_stream release_stream() { return std::move(stream_); }
  bool redirect_to_https() const { return redirect_; }
  void do_eof() {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  }

 private:
  beast::tcp_stream stream_;
  bool redirect_;
};

class SslHttpSession : public HttpSession<SslHttpSession>, public std::enable_shared_from_this<SslHttpSession> {
 public:
  SslHttpSession(beast::tcp_stream&& stream, net::ssl::context& ctx, beast::flat_buffer&& buffer,
                 std::shared_ptr<SharedState> state)
      : HttpSession(std::move(buffer), std::move(state)), stream_(std::move(stream), ctx) {}

  void run() {
    beast::get_lowest_layer(stream_).expires_after(state_->config().handshake_timeout);
    // The detector already read the start of the ClientHello: hand those bytes to the handshake.
    stream_.async_handshake(net::ssl::stream_base::server, buffer_.data(),
                            beast::bind_front_handler(&SslHttpSession::on_handshake, shared_from_this()));
  }
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  beast::ssl_stream<beast::tcp_stream> release_stream() { return std::move(stream_); }
  bool redirect_to_https() const { return false; }
  void do_eof() {
    beast::get_lowest_layer(stream_).expires_after(state_->config().handshake_timeout);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

 private:
  void on_handshake(beast::error_code ec, std::size_t used) {
    if (ec) return;
    buffer_.consume(used);
    do_read();
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
};

}  // namespace

void run_http_session(beast::tcp_stream&& stream, beast::flat_buffer&& buffer, std::shared_ptr<SharedState> state,
                      bool redirect_to_https) {
  std::make_shared<PlainHttpSession>(std::move(stream), std::move(buffer), std::move(state), redirect_to_https)->run();
}

void run_https_session(beast::tcp_stream&& stream, net::ssl::context& tls, beast::flat_buffer&& buffer,
                       std::shared_ptr<SharedState> state) {
  std::make_shared<SslHttpSession>(std::move(stream), tls, std::move(buffer), std::move(state))->run();
}

}  // namespace ptt::server
