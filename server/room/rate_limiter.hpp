// Token bucket: `rate` events a second on average, bursts up to `burst`.
#pragma once

#include <algorithm>
#include <chrono>

#include "ptt/server/vocabulary.hpp"

namespace ptt::server {

class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst) noexcept : rate_(rate_per_s), burst_(burst), tokens_(burst) {}

  bool allow(TimePoint now) noexcept {
    refill(now);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }
  // Would allow() refuse now? (Consumes nothing.)
  bool exhausted(TimePoint now) noexcept {
    refill(now);
    return tokens_ < 1.0;
  }
  // Back to a full bucket: it remembers nothing, and can be forgotten.
  bool full(TimePoint now) noexcept {
    refill(now);
    return tokens_ >= burst_;
  }

 private:
  void refill(TimePoint now) noexcept {
    if (last_ != TimePoint{}) {
      const double dt = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(burst_, tokens_ + std::max(0.0, dt) * rate_);
    }
    last_ = now;
  }

  double rate_, burst_, tokens_;
  TimePoint last_{};
};

}  // namespace ptt::server
