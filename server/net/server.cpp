#include "server.hpp"

#include <openssl/ssl.h>

#include <spdlog/spdlog.h>

#include <cctype>

#include "certificate.hpp"
#include "listener.hpp"
#include "network_addresses.hpp"
#include "terminal_qr.hpp"

namespace ptt::server {

Server::Server(net::io_context& ioc, ServerConfig config, AudioSink* sink) {
  if (config.tls) {
    const auto files = ensure_certificate(config.state_dir, config.cert_file, config.key_file, lan_addresses());
    certificate_generated_ = files.generated;
    tls_.emplace(net::ssl::context::tls_server);
    // TLS 1.2 and 1.3 only; OpenSSL's default cipher list for those is modern.
    tls_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                      net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 |
                      net::ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
    tls_->use_certificate_chain_file(files.cert.string());
    tls_->use_private_key_file(files.key.string(), net::ssl::context::pem);
    certificate_names_ = certificate_names(files.cert);
  }
  const auto address = net::ip::make_address(config.bind_address);
  const net::ip::tcp::endpoint endpoint(address, config.port);
  state_ = std::make_shared<SharedState>(ioc, std::move(config), sink);
  listener_ = std::make_shared<Listener>(ioc, tls_ ? &*tls_ : nullptr, endpoint, state_);
  if (const auto& c = state_->config(); c.tls && c.help_page && c.help_port != 0) {
    // A port taken by something else costs only the separate address: the page stays on the TLS port.
    try {
      help_listener_ = std::make_shared<Listener>(ioc, nullptr, net::ip::tcp::endpoint(address, c.help_port), state_, true);
    } catch (const boost::system::system_error& e) {
      spdlog::warn("help page port {}: {}; students get the help page on port {} instead", c.help_port,
                   e.code().message(), port());
    }
  }
  // The page's own origins, now that the port is known: what we print, plus the certificate's names.
  std::vector<std::string> hosts;
  for (const auto& url : student_urls()) {
    const auto start = url.find("://") + 3;
    hosts.push_back(url.substr(start, url.rfind(':') - start));
  }
  for (auto& name : certificate_names_) {
    if (name.starts_with("*.")) continue;  // an Origin names one host
    hosts.push_back(name.find(':') != std::string::npos ? "[" + name + "]" : name);
  }
  const auto& c = state_->config();
  state_->set_origins(OriginPolicy(c.tls, hosts, port(), c.extra_origins));
  state_->set_join_qr_svg(svg_qr(join_urls().front()));
  state_->with_room([urls = join_urls()](Room& room) mutable { room.set_join_urls(std::move(urls)); });
  listener_->run();
  if (help_listener_) help_listener_->run();
  state_->start();
}

Server::~Server() = default;

std::uint16_t Server::port() const { return listener_->local_endpoint().port(); }

std::vector<std::string> Server::student_urls() const {
  const auto& c = state_->config();
  const std::string scheme = c.tls ? "https://" : "http://";
  const std::string port = ":" + std::to_string(this->port());
  std::vector<std::string> hosts;
  const auto bound = net::ip::make_address(c.bind_address);
  if (bound.is_unspecified()) hosts = lan_addresses();
  else if (!bound.is_loopback()) hosts.push_back(bound.is_v6() ? "[" + bound.to_string() + "]" : bound.to_string());
  hosts.push_back("localhost");
  std::vector<std::string> urls;
  for (const auto& h : hosts) urls.push_back(scheme + h + port + "/");
  return urls;
}

std::vector<std::string> Server::join_urls() const {
  const auto& c = state_->config();
  std::string query;
  if (!c.room.room_code.empty()) {
    query = "?room=";
    for (unsigned char ch : c.room.room_code) {
      if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
        query += static_cast<char>(ch);
      } else {
        constexpr char hex[] = "0123456789ABCDEF";
        query += {'%', hex[ch >> 4], hex[ch & 15]};
      }
    }
  }
  auto urls = student_urls();
  const std::string main_port = ":" + std::to_string(port()) + "/";
  for (auto& u : urls) {
    if (c.tls && c.help_page) {
      u.replace(0, std::string_view("https").size(), "http");
      if (help_listener_) u.replace(u.rfind(main_port), main_port.size(), ":" + std::to_string(help_port()) + "/");
    }
    u += query;
  }
  return urls;
}

std::uint16_t Server::help_port() const { return help_listener_ ? help_listener_->local_endpoint().port() : 0; }

void Server::stop() {
  listener_->stop();
  if (help_listener_) help_listener_->stop();
  state_->with_room([](Room& room) { room.close_all(close_code::going_away, "server shutting down", Clock::now()); });
  state_->stop();
}

}  // namespace ptt::server
