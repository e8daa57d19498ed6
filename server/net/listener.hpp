// Accepts TCP connections and hands each to a session: HTTPS when the client starts a TLS
// handshake, plain HTTP otherwise (which, in TLS mode, only redirects to https).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "shared_state.hpp"

namespace ptt::server {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // tls == nullptr: plain HTTP mode. help_only: plain HTTP that only explains the certificate and
  // links on (the help page's own port). Throws boost::system::system_error if the address cannot
  // be bound.
  Listener(net::io_context& ioc, net::ssl::context* tls, const net::ip::tcp::endpoint& endpoint,
           std::shared_ptr<SharedState> state, bool help_only = false);
  void run();
  void stop();
  net::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, net::ip::tcp::socket socket);

  net::io_context& ioc_;
  net::ssl::context* tls_;
  bool help_only_;
  net::ip::tcp::acceptor acceptor_;
  std::shared_ptr<SharedState> state_;
  // After a failed accept (out of file descriptors, say) accepting pauses briefly: retrying at once
  // would spin the I/O thread and flood the log while the condition lasts.
  net::steady_timer retry_;
  std::chrono::steady_clock::time_point last_warning_{};
  std::uint64_t failures_unreported_ = 0;
};

}  // namespace ptt::server
