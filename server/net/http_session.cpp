#include "http_session.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <iterator>
#include <optional>

#include "fail.hpp"
#include "http_router.hpp"
#include "websocket_session.hpp"

namespace ptt::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Request = HttpRequest;

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
    if (ec) return fail(ec, "http read");  // timeout, reset, or a request over the limits: drop the connection
    Request req = parser_->release();
    const RouterContext context{state_->static_files(), state_->origins(), state_->config().admin_token,
                                &state_->consoles(), state_->join_qr_svg(),
                                !state_->config().room.room_code.empty()};
    if (derived().redirect_to_https()) return send(plain_http_reply(req, context, state_->config().help_page));
    Route r = route(req, context);
    switch (r.kind) {
      case RouteKind::reply:
        return send(std::move(r.reply));
      case RouteKind::websocket:
        beast::get_lowest_layer(derived().stream()).expires_never();
        return run_websocket_session(derived().release_stream(), std::move(req), state_);
      case RouteKind::admin_status:
      case RouteKind::admin_revoke:
        return admin(std::move(req), r.kind == RouteKind::admin_revoke);
      case RouteKind::admin_recordings:
        return send(recordings_reply(req));
      case RouteKind::admin_recording:
        return send(recording_reply(req, r.recording_id));
      case RouteKind::admin_action:
        return admin_action(std::move(req), r);
      case RouteKind::admin_log:
        return admin_log(std::move(req));
      case RouteKind::console_websocket:
        beast::get_lowest_layer(derived().stream()).expires_never();
        return run_websocket_session(derived().release_stream(), std::move(req), state_, std::move(r.console_session));
      case RouteKind::console_login:
      case RouteKind::console_logout: {
        std::string id, ended;
        if (r.kind == RouteKind::console_login) id = state_->consoles().open(&ended);
        else state_->consoles().close(ended = r.console_session);
        if (!ended.empty()) state_->with_room([ended](Room& room) { room.close_consoles(ended); });
        if (r.kind == RouteKind::console_login && id.empty())
          return send(text_reply(req, http::status::service_unavailable, "no random source for a login\n"));
        auto res = text_reply(req, http::status::no_content, "");
        res.set(http::field::set_cookie, ConsoleSessions::set_cookie(id));
        return send(std::move(res));
      }
    }
  }

  HttpReply recordings_reply(const Request& req) {
    const auto* catalog = state_->config().recordings;
    return text_reply(req, http::status::ok, recordings_json(catalog ? catalog->recordings() : std::vector<RecordingEntry>{}),
                      "application/json");
  }

  // The file behind an id from the listing; the request names no path. A talk's file is at most a
  // few megabytes (max_talk at Opus rates), read whole.
  HttpReply recording_reply(const Request& req, std::uint32_t id) {
    const auto* catalog = state_->config().recordings;
    const auto path = catalog ? catalog->recording_file(id) : std::nullopt;
    std::string bytes;
    if (path) {
      std::ifstream in(*path, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
      if (!in.good() && !in.eof()) bytes.clear();
    }
    if (!path || bytes.empty()) return text_reply(req, http::status::not_found, "no such recording\n");
    auto res = text_reply(req, http::status::ok, std::move(bytes), "audio/ogg");
    res.set(http::field::content_disposition, "attachment; filename=\"" + path->filename().string() + "\"");
    return res;
  }

  // GET /admin/status, POST /admin/revoke (the router checked the token): answered from the room's strand.
  void admin(Request&& req, bool revoke) {
    state_->with_room([self = derived().shared_from_this(), req = std::move(req), revoke](Room& room) mutable {
      if (revoke) room.revoke_floor(Clock::now());
      std::string body = room.status_json();
      net::post(beast::get_lowest_layer(self->stream()).get_executor(),
                [self, req = std::move(req), body = std::move(body)]() mutable {
                  self->send(text_reply(req, http::status::ok, std::move(body), "application/json"));
                });
    });
  }

  // GET /admin/log.csv, read on the room's strand.
  void admin_log(Request&& req) {
    state_->with_room([self = derived().shared_from_this(), req = std::move(req)](Room& room) mutable {
      std::string body = room.session_log_csv();
      net::post(beast::get_lowest_layer(self->stream()).get_executor(),
                [self, req = std::move(req), body = std::move(body)]() mutable {
                  auto res = text_reply(req, http::status::ok, std::move(body), "text/csv; charset=utf-8");
                  res.set(http::field::content_disposition, "attachment; filename=\"session-log.csv\"");
                  self->send(std::move(res));
                });
    });
  }

  // POST /admin/grant, /admin/dequeue, /admin/remove, /admin/mode: carried out on the room's strand
  // through the room's rules; 200 with the room's status, or 409 when it changed nothing (the
  // student is not in line, not here, the floor is taken, the mode is already that).
  void admin_action(Request&& req, const Route& r) {
    state_->with_room([self = derived().shared_from_this(), req = std::move(req), action = r.action, client = r.client,
                       mode = r.mode](Room& room) mutable {
      const auto now = Clock::now();
      bool changed = false;
      switch (action) {
        case AdminAction::grant: changed = room.grant_floor(client, now); break;
        case AdminAction::dequeue: changed = room.dequeue(client, now); break;
        case AdminAction::remove: changed = room.remove_client(client, now); break;
        case AdminAction::mode: changed = room.set_floor_mode(mode, now); break;
      }
      std::string body = room.status_json();
      net::post(beast::get_lowest_layer(self->stream()).get_executor(),
                [self, req = std::move(req), body = std::move(body), changed]() mutable {
                  self->send(text_reply(req, changed ? http::status::ok : http::status::conflict, std::move(body),
                                        "application/json"));
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
    if (ec) return fail(ec, "http write");
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
    if (ec) fail(ec, "http shutdown");
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
    // Now, while the socket is surely open: a failed handshake is reported with it.
    beast::error_code ec;
    peer_ = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec).address().to_string();
    if (ec) peer_ = "an unknown address";
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
    stream_.async_shutdown([self = shared_from_this()](beast::error_code ec) {
      if (ec) fail(ec, "tls shutdown");  // often stream_truncated: the client closed without close_notify
    });
  }

 private:
  void on_handshake(beast::error_code ec, std::size_t used) {
    if (ec) return fail(ec, "tls handshake", peer_);
    buffer_.consume(used);
    do_read();
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  std::string peer_;  // the client's address
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
