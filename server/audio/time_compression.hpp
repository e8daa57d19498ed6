// Plays decoded audio faster without changing its pitch and without dropping a stretch of it:
// one pitch period is cut out and the two sides are cross-faded over a period (overlap-add, as
// WebRTC's NetEQ "accelerate" does). The jitter stage uses it to catch up after a stall or a
// bunch of late packets with every word still heard. No allocation, no state.
#pragma once

namespace ptt::server {

struct TimeCompression {
  // Pitch periods searched: 2.5 ms (400 Hz) to 12.5 ms (80 Hz) at 48 kHz.
  static constexpr int kMinLag = 120;
  static constexpr int kMaxLag = 600;
  static constexpr int kWindow = 480;  // 10 ms compared at each lag
  // Samples remove_period needs to look at.
  static constexpr int kNeeds = 2 * kMaxLag + kWindow;

  // The lag in [kMinLag, max_lag] at which pcm[0, kWindow) best matches pcm[lag, lag + kWindow)
  // (normalised cross-correlation); a periodic signal gives its period.
  static int best_lag(const float* pcm, int max_lag) noexcept;

  // Removes `lag` samples from the start of pcm[0, size): pcm[0, lag) fades from itself into
  // pcm[lag, 2 lag), then pcm[2 lag, size) follows. Needs size >= 2 lag. Returns the new size.
  static int remove(float* pcm, int size, int lag) noexcept;
};

}  // namespace ptt::server
