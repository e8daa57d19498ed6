#include "shared_state.hpp"

#include <chrono>

namespace ptt::server {

SharedState::SharedState(net::io_context& ioc, ServerConfig config, AudioSink* sink)
    : config_(std::move(config)), strand_(net::make_strand(ioc)), room_(config_.room, sink, wall_clock_us),
      timer_(strand_) {}

void SharedState::start() {
  net::post(strand_, [self = shared_from_this()] { self->on_tick(); });
}

void SharedState::stop() {
  net::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->timer_.cancel();
  });
}

void SharedState::continue_broadcast_later() {
  if (broadcast_posted_ || !room_.broadcast_pending()) return;
  broadcast_posted_ = true;
  net::post(strand_, [self = shared_from_this()] {
    self->broadcast_posted_ = false;
    self->room_.continue_broadcast();
    self->continue_broadcast_later();
  });
}

void SharedState::on_tick() {
  if (stopped_) return;
  room_.tick(Clock::now());
  continue_broadcast_later();
  timer_.expires_after(std::chrono::milliseconds(100));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->on_tick();
  });
}

}  // namespace ptt::server
