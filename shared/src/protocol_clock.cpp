// Clock sync: the NTP-style estimate from one ping/pong exchange.
#include "ptt/protocol.hpp"

namespace ptt::protocol {

ClockSample clock_sample(const Pong& p, std::uint64_t t3) noexcept {
  const auto t0 = static_cast<std::int64_t>(p.t0), t1 = static_cast<std::int64_t>(p.t1),
             t2 = static_cast<std::int64_t>(p.t2), t3s = static_cast<std::int64_t>(t3);
  return ClockSample{((t1 - t0) + (t2 - t3s)) / 2, (t3s - t0) - (t2 - t1)};
}

}  // namespace ptt::protocol
