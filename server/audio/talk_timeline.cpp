#include "talk_timeline.hpp"

#include <algorithm>

#include "ptt/audio_format.hpp"

namespace ptt::server {

void TalkTimeline::start(std::uint32_t talk_id, TimePoint now) noexcept {
  talk_id_ = talk_id;
  start_ = now;
  anchored_ = false;
  anchor_ = 0;
  admitted_samples_ = 0;
  counts_ = {};
}

void TalkTimeline::end(std::uint32_t talk_id) noexcept {
  if (talk_id == talk_id_) talk_id_ = 0;
}

std::uint64_t TalkTimeline::limit(Clock::duration elapsed) const noexcept {
  using std::chrono::microseconds;
  const auto us = std::chrono::duration_cast<microseconds>(
                      std::clamp<Clock::duration>(elapsed, Clock::duration::zero(), config_.max_talk))
                      .count();
  const auto elapsed_samples = static_cast<std::uint64_t>(us) * audio_format::kSamplesPerMs / 1000;
  return elapsed_samples + elapsed_samples * config_.drift_ppm / 1'000'000 +
         static_cast<std::uint64_t>(config_.slack.count()) * audio_format::kSamplesPerMs;
}

TalkTimeline::Verdict TalkTimeline::admit(std::uint32_t talk_id, std::uint32_t timestamp, std::uint32_t samples,
                                          TimePoint arrival) noexcept {
  if (talk_id == 0 || talk_id != talk_id_) return Verdict::other_talk;
  if (!anchored_) {
    anchored_ = true;
    anchor_ = timestamp;
  }
  // Where the packet lies from the talk's first, modulo 2^32: past half the range it lies before it.
  const std::uint32_t offset = timestamp - anchor_;
  if (offset >= 0x80000000u) {
    ++counts_.outside;
    return Verdict::before_start;
  }
  const std::uint64_t limit_now = limit(arrival - start_);
  if (std::uint64_t{offset} + samples > limit_now) {
    ++counts_.outside;
    return Verdict::ahead;
  }
  if (admitted_samples_ + samples > limit_now) {
    ++counts_.over_budget;
    return Verdict::over_budget;
  }
  admitted_samples_ += samples;
  ++counts_.accepted;
  return Verdict::accepted;
}

}  // namespace ptt::server
