#include "listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/detect_ssl.hpp>

#include "fail.hpp"
#include "http_session.hpp"

namespace ptt::server {
namespace {

namespace beast = boost::beast;

// Peeks at the first bytes to tell a TLS ClientHello from plain HTTP.
class DetectSession : public std::enable_shared_from_this<DetectSession> {
 public:
  DetectSession(net::ip::tcp::socket&& socket, net::ssl::context* tls, std::shared_ptr<SharedState> state,
                bool help_only)
      : stream_(std::move(socket)), tls_(tls), state_(std::move(state)), help_only_(help_only) {}

  void run() { net::dispatch(stream_.get_executor(), beast::bind_front_handler(&DetectSession::on_run, shared_from_this())); }

 private:
  void on_run() {
    stream_.expires_after(state_->config().handshake_timeout);
    beast::async_detect_ssl(stream_, buffer_, beast::bind_front_handler(&DetectSession::on_detect, shared_from_this()));
  }

  void on_detect(beast::error_code ec, bool is_tls) {
    if (ec) return fail(ec, "detect");  // closed or timed out before saying anything
    if (is_tls) {
      if (tls_ && !help_only_) return run_https_session(std::move(stream_), *tls_, std::move(buffer_), state_);
      // TLS to a plain-HTTP server: nothing sensible to answer.
      return fail(net::error::operation_not_supported, "detect (a TLS handshake on the plain-HTTP port)");
    }
    run_http_session(std::move(stream_), std::move(buffer_), state_, tls_ != nullptr || help_only_);
  }

  beast::tcp_stream stream_;
  net::ssl::context* tls_;
  std::shared_ptr<SharedState> state_;
  beast::flat_buffer buffer_;
  bool help_only_;
};

}  // namespace

Listener::Listener(net::io_context& ioc, net::ssl::context* tls, const net::ip::tcp::endpoint& endpoint,
                   std::shared_ptr<SharedState> state, bool help_only)
    : ioc_(ioc), tls_(tls), help_only_(help_only), acceptor_(net::make_strand(ioc)), state_(std::move(state)), retry_(acceptor_.get_executor()) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void Listener::run() { do_accept(); }

void Listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
    self->retry_.cancel();
  });
}

void Listener::do_accept() {
  // Each connection gets its own strand, so its handlers never run concurrently.
  acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(boost::system::error_code ec, net::ip::tcp::socket socket) {
  if (ec == net::error::operation_aborted) return fail(ec, "accept");  // stopped
  if (!acceptor_.is_open()) return;
  if (ec) {
    // Out of file descriptors and the like: keep serving the connections there are, and try again
    // in 100 ms; one warning a second at most, with how many failures it stands for.
    ++failures_unreported_;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_warning_ >= std::chrono::seconds(1)) {
      spdlog::warn("accept failed: {} ({} time{} since the last warning); new connections wait 100 ms", ec.message(),
                   failures_unreported_, failures_unreported_ == 1 ? "" : "s");
      last_warning_ = now;
      failures_unreported_ = 0;
    }
    retry_.expires_after(std::chrono::milliseconds(100));
    retry_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
      if (wait_ec) return fail(wait_ec, "accept retry");  // stopped
      if (self->acceptor_.is_open()) self->do_accept();
    });
    return;
  }
  boost::system::error_code opt_ec;
  socket.set_option(net::ip::tcp::no_delay(true), opt_ec);  // small audio/control frames: no Nagle delay
  std::make_shared<DetectSession>(std::move(socket), tls_, state_, help_only_)->run();
  do_accept();
}

}  // namespace ptt::server
