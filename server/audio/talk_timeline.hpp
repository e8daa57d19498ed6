// The one place a talk's audio is held to the server's clock before it reaches playback or the
// recorder (AudioPipeline owns one). A packet's timestamp is the sender's word for where it lies in
// the talk, and a gap in it is filled with concealment: it must not run ahead of time. Here:
//
// - the talk's first packet anchors its timeline (whatever its timestamp: the arithmetic is modulo
//   2^32, so a timeline that wraps is no different from one that does not);
// - a packet that starts before the anchor is refused (a WebSocket delivers in order, and the
//   page's first packet is the earliest of its talk);
// - a packet that ends further from the anchor than the talk has lasted on the server's clock
//   (from the grant to its arrival, at most max_talk) plus the slack is refused;
// - so is a packet that would take the talk's admitted audio (the sum of the admitted packets'
//   durations) past the same limit: a flood of repeated or overlapping packets is cut off as soon
//   as it holds more audio than time has passed, however many frames a second arrive.
//
// The slack: the page sends what the student said between the press and the grant (its pre-roll,
// at most the newest 0.8 s: PREROLL_MS in web/app.js) as a burst at the talk's start, so a genuine
// talk runs up to 0.8 s ahead of the server's clock from its first packet on; the rest of the
// second absorbs the packets' own length and uneven arrival. The page's timestamps count its sound card's samples, which may run faster than the
// server's clock: 0.1 % of the elapsed time on top (ten times a common 100 ppm crystal's
// tolerance; 0.12 s over a 120 s talk). A talk's timeline, and so its recording, is therefore at
// most min(elapsed, max_talk) * 1.001 + 1 s long: 121.12 s with the default --max-talk 120.
#pragma once

#include <chrono>
#include <cstdint>

#include "ptt/server/vocabulary.hpp"

namespace ptt::server {

struct TalkTimelineConfig {
  std::chrono::milliseconds max_talk{120'000};  // no talk's timeline runs longer than the floor allows
  std::chrono::milliseconds slack{1'000};       // the page's pre-roll burst
  std::uint32_t drift_ppm = 1'000;              // the sender's sample clock running fast
};

class TalkTimeline {
 public:
  enum class Verdict {
    accepted,
    other_talk,    // no talk, or another talk's packet (the room lets none through)
    before_start,  // starts before the talk's first packet
    ahead,         // ends further from the first packet than the talk has lasted, plus the slack
    over_budget,   // more audio than the talk has lasted, plus the slack (repeats, overlaps)
  };
  // Per talk. (Modulo 2^32 a far jump is as much behind the first packet as ahead of it: the two
  // are counted together.)
  struct Counts {
    std::uint64_t accepted = 0;
    std::uint64_t outside = 0;      // before_start or ahead
    std::uint64_t over_budget = 0;
    std::uint64_t refused() const noexcept { return outside + over_budget; }
  };

  explicit TalkTimeline(TalkTimelineConfig config = {}) noexcept : config_(config) {}

  // The grant: the talk's clock starts.
  void start(std::uint32_t talk_id, TimePoint now) noexcept;
  Verdict admit(std::uint32_t talk_id, std::uint32_t timestamp, std::uint32_t samples, TimePoint arrival) noexcept;
  // The talk is over; its counts stay readable until the next start.
  void end(std::uint32_t talk_id) noexcept;

  const Counts& counts() const noexcept { return counts_; }
  std::uint32_t talk_id() const noexcept { return talk_id_; }
  // How much of a talk's timeline (48 kHz samples from its first packet) is admitted `elapsed`
  // after its start.
  std::uint64_t limit(Clock::duration elapsed) const noexcept;
  const TalkTimelineConfig& config() const noexcept { return config_; }

 private:
  TalkTimelineConfig config_;
  std::uint32_t talk_id_ = 0;
  TimePoint start_{};
  bool anchored_ = false;
  std::uint32_t anchor_ = 0;
  std::uint64_t admitted_samples_ = 0;
  Counts counts_;
};

}  // namespace ptt::server
