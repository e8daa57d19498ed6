// How much audio the output device holds ahead of the speaker. The lowest latency the device
// offers is right on a quiet laptop; on a busy one the audio thread is sometimes late (a stall of
// the whole process, a core taken by a compile) and the device runs dry: a gap in the speech.
// After kGrowAfter underruns within kWindow the buffer grows a step (the stream is reopened with
// the larger latency); after kShrinkAfter without one, and only between talks, it shrinks a step.
// Reopening puts in a gap of its own, longer than an underrun's, so while a talk plays the buffer
// grows only once underruns come often (kGrowAfterTalking); fewer wait for the talk's end.
// Pure bookkeeping, fed by the watchdog: no clock, no device of its own.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

namespace ptt::server {

class OutputBufferPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  // Level 0 is the device's own low latency; then these (ms). The largest covers a stall of 150 ms.
  static constexpr std::array<int, 4> kLevelsMs{0, 60, 100, 160};
  static constexpr int kGrowAfter = 2;
  // A reopening under a talk added 0.24 s to it (browser.student_journey, one core busy): worth it
  // only when the talk is already breaking up.
  static constexpr int kGrowAfterTalking = 4;
  static constexpr auto kWindow = std::chrono::seconds(10);
  static constexpr auto kShrinkAfter = std::chrono::seconds(60);
  // Underruns this soon after a stream opens at a new latency are its start or the reopening's own
  // gap, not a reason to grow.
  static constexpr auto kSettle = std::chrono::seconds(3);
  // Nor are those of the first second of a stream reopened at the same latency (after standby):
  // the device's first bursts of callbacks, as it fills its buffer.
  static constexpr auto kSettleReopened = std::chrono::seconds(1);

  struct Change {
    int from_level, to_level;
    int underruns;  // in the window, for a growth
  };

  explicit OutputBufferPolicy(Clock::time_point now) : last_change_(now), last_underrun_(now) {}

  // The stream was reopened at the same latency (the device came back from standby).
  void reopened(Clock::time_point now) noexcept { last_open_ = now; }

  // The watchdog's periodic look: the callback's underrun count so far, whether a talk is playing.
  // Returns the change to make, if any (the caller reopens the stream at latency_ms()).
  std::optional<Change> update(std::uint64_t underruns, Clock::time_point now, bool talking) noexcept {
    const std::uint64_t fresh = underruns - seen_;
    seen_ = underruns;
    if (fresh > 0 && now - last_change_ >= kSettle && now - last_open_ >= kSettleReopened) {
      for (std::uint64_t i = 0; i < fresh && i < recent_.size(); ++i) {
        recent_[next_] = now;
        next_ = (next_ + 1) % recent_.size();
      }
      last_underrun_ = now;
    }
    int in_window = 0;
    for (const auto& t : recent_)
      if (t && now - *t <= kWindow) ++in_window;
    if (in_window >= (talking ? kGrowAfterTalking : kGrowAfter) && level_ + 1 < static_cast<int>(kLevelsMs.size())) {
      const Change change{level_, level_ + 1, in_window};
      ++level_;
      recent_.fill(std::nullopt);
      last_change_ = last_underrun_ = now;
      return change;
    }
    if (level_ > 0 && !talking && now - last_underrun_ >= kShrinkAfter && now - last_change_ >= kShrinkAfter) {
      const Change change{level_, level_ - 1, 0};
      --level_;
      last_change_ = now;
      return change;
    }
    return std::nullopt;
  }

  int level() const noexcept { return level_; }
  // 0: the device's default low latency.
  int latency_ms() const noexcept { return kLevelsMs[static_cast<std::size_t>(level_)]; }

 private:
  int level_ = 0;
  std::uint64_t seen_ = 0;
  std::array<std::optional<Clock::time_point>, kGrowAfter * 4> recent_{};
  std::size_t next_ = 0;
  Clock::time_point last_change_, last_underrun_, last_open_{};
};

}  // namespace ptt::server
