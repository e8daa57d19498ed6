// The words every wing of the server shares (net, room, audio): ids and clocks. No wing owns this
// header, so each may include it without depending on another.
#pragma once

#include <chrono>
#include <cstdint>

namespace ptt::server {

using ClientId = std::uint32_t;  // a connection, from the room (0: none)
using TalkId = std::uint32_t;    // a granted talk, from the floor (0: none)

// The room's clock: every timeout, rate and arrival time the server keeps is on it. Tests script it.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// The wall clock, in microseconds since the epoch: what pings and pongs carry, and what names a
// recording's date. clock_gettime through the vDSO: no lock, no allocation, safe on the audio thread.
inline std::uint64_t wall_clock_us() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace ptt::server
