// The professor's server as one object: TLS set-up, the listener, the shared state. main.cpp and
// the integration tests both run this, on an io_context they own.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server_config.hpp"
#include "shared_state.hpp"

namespace ptt::server {

class Listener;

class Server {
 public:
  // Throws std::runtime_error (certificate) or boost::system::system_error (bind) with the reason.
  Server(net::io_context& ioc, ServerConfig config, AudioSink* sink = nullptr);
  ~Server();

  std::uint16_t port() const;
  // The certificate help page's own port (0: none bound; the page is on port() only).
  std::uint16_t help_port() const;
  // URLs students can open: every LAN address (or the bound one), then localhost.
  std::vector<std::string> student_urls() const;
  // What students are given (printed, in the QR codes, on the console's join screen): the
  // certificate help page's plain-HTTP address when there is one, else the page's; with ?room=
  // when the room has a code.
  std::vector<std::string> join_urls() const;
  bool certificate_generated() const noexcept { return certificate_generated_; }
  std::shared_ptr<SharedState> state() const { return state_; }
  // Page origins allowed to open a WebSocket (the printed addresses, localhost, the certificate's names).
  const std::vector<std::string>& allowed_origins() const { return state_->origins().origins(); }
  // Stops accepting, closes every client with 1001 and stops the room's timer.
  void stop();

 private:
  std::optional<net::ssl::context> tls_;
  std::shared_ptr<SharedState> state_;
  std::shared_ptr<Listener> listener_;
  std::shared_ptr<Listener> help_listener_;  // the certificate help page's own port, when bound
  bool certificate_generated_ = false;
  std::vector<std::string> certificate_names_;
};

}  // namespace ptt::server
