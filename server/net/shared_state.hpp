// The one object every session shares (as in Beast's chat examples): the configuration and the
// room, which lives on its own strand. Sessions never touch the room directly: they post to
// strand(), so every floor decision happens in order on one strand, whatever the thread count.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <memory>

#include "console_sessions.hpp"
#include "origin_policy.hpp"
#include "room.hpp"
#include "server_config.hpp"

namespace ptt::server {

namespace net = boost::asio;

class SharedState : public std::enable_shared_from_this<SharedState> {
 public:
  using Strand = net::strand<net::io_context::executor_type>;

  SharedState(net::io_context& ioc, ServerConfig config, AudioSink* sink);

  const ServerConfig& config() const noexcept { return config_; }
  // Set once by Server, before the I/O threads run; read-only after.
  const OriginPolicy& origins() const noexcept { return origins_; }
  void set_origins(OriginPolicy origins) { origins_ = std::move(origins); }
  // The join address's QR code as SVG (GET /join-qr.svg); set once with the origins.
  const std::string& join_qr_svg() const noexcept { return join_qr_svg_; }
  void set_join_qr_svg(std::string svg) { join_qr_svg_ = std::move(svg); }
  const StaticFiles& static_files() const noexcept { return config_.static_files ? *config_.static_files : no_files_; }
  Strand& strand() noexcept { return strand_; }
  // The professor's console logins (thread-safe).
  ConsoleSessions& consoles() noexcept { return consoles_; }
  // Only on strand().
  Room& room() noexcept { return room_; }

  // Runs f(room) on the room's strand.
  template <typename F>
  void with_room(F&& f) {
    net::post(strand_, [self = shared_from_this(), f = std::forward<F>(f)]() mutable {
      f(self->room_);
      self->continue_broadcast_later();
    });
  }

  // Starts the room's 100 ms timer (pings, timeouts, floor limits).
  void start();
  void stop();

 private:
  void on_tick();
  // A floor-state broadcast the room left unfinished goes on in a later handler, behind the writes
  // its last slice queued, so replies to other clients are not held behind all of it.
  void continue_broadcast_later();

  ServerConfig config_;
  OriginPolicy origins_;
  std::string join_qr_svg_;
  StaticFiles no_files_{{}};
  ConsoleSessions consoles_;
  Strand strand_;
  Room room_;
  net::steady_timer timer_;
  bool stopped_ = false;
  bool broadcast_posted_ = false;
};

}  // namespace ptt::server
