// The last stage against feedback (docs/AUDIO.md, "Feedback"): what the speakers played, taken
// back out of what the talking student sends, by speexdsp's echo canceller (MDF, an adaptive
// filter) with the played signal as its reference. The room delays that reference by the loop's
// delay (found by FeedbackEstimator, 100 to 500 ms through a browser); a filter that long would
// cost too much and converge slowly, so the reference is taken from the played history already
// aligned to the estimated delay, less a lead (kLeadMs) that leaves room for the estimate's error
// and the room's early reflections within a short filter (kTailMs).
//
// Audio thread only: built (and its speexdsp state allocated) up front; reset(), played() and
// cancel() neither lock nor allocate.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

struct SpeexEchoState_;

namespace ptt::server {

class EchoCanceller {
 public:
  static constexpr int kRate = 48000;
  static constexpr int kFrame = 480;  // 10 ms: both packet lengths are whole frames
  static constexpr int kTailMs = 120, kLeadMs = 30;
  // How far back the played history reaches: the longest loop delay the estimator reports (500 ms),
  // the jitter stage's and the device's delays on top, and a frame.
  static constexpr int kHistory = 2 * kRate;

  EchoCanceller();
  ~EchoCanceller();
  EchoCanceller(const EchoCanceller&) = delete;
  EchoCanceller& operator=(const EchoCanceller&) = delete;

  // A new talk: forgets the room (the filter) and the talk's figures; the history stays.
  void reset() noexcept;
  // What left the speaker, in order (the played stream's positions count from the first call).
  void played(const float* pcm, std::size_t n) noexcept;
  std::int64_t played_position() const noexcept { return played_; }

  // Takes the speakers out of n incoming samples (a multiple of kFrame), in place. `echo_from` is
  // the played position whose sound the first of them carries back (the room's delay already
  // applied; see Playback). False, and pcm untouched, when that part of the history is not there
  // (not yet played, or already overwritten).
  bool cancel(float* pcm, int n, std::int64_t echo_from) noexcept;

  // Over the talk so far, while the reference was sounding: what the canceller took out against
  // the reference, in dB (the coupling it found; -99: nothing).
  double found_db() const noexcept;
  std::uint64_t frames_cancelled() const noexcept { return frames_; }

 private:
  SpeexEchoState_* state_ = nullptr;
  std::vector<float> history_;  // ring of kHistory played samples
  std::int64_t played_ = 0;
  std::array<std::int16_t, kFrame> in_{}, ref_{}, out_{};
  double removed_energy_ = 0, ref_energy_ = 0;
  double dc_m0_ = 0, dc_m1_ = 0;  // the canceller's own DC notch, run again to measure what else it took
  std::uint64_t frames_ = 0;
};

}  // namespace ptt::server
