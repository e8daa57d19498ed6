#include "echo_canceller.hpp"

#include <speex/speex_echo.h>

#include <algorithm>
#include <cmath>

namespace ptt::server {

namespace {

// At half scale: speexdsp gives up on a frame (mutes it, and after 50 in a row writes to stderr)
// when what it takes out exceeds full scale, which a full-scale talk and reference can make it do.
constexpr float kScale = 16383.0f;

std::int16_t to_int16(float v) noexcept {
  return static_cast<std::int16_t>(std::lrint(std::clamp(v, -1.0f, 1.0f) * kScale));
}

// The reference counts as sounding above this power (mean square, full scale 1): -50 dBFS.
constexpr double kSoundingPower = 1e-5;
constexpr double kDcRadius = 0.992, kDcDen2 = kDcRadius * kDcRadius + 0.7 * (1 - kDcRadius) * (1 - kDcRadius);

}  // namespace

EchoCanceller::EchoCanceller()
    : state_(speex_echo_state_init(kFrame, kTailMs * kRate / 1000)), history_(static_cast<std::size_t>(kHistory), 0.0f) {
  int rate = kRate;
  speex_echo_ctl(state_, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
}

EchoCanceller::~EchoCanceller() { speex_echo_state_destroy(state_); }

void EchoCanceller::reset() noexcept {
  speex_echo_state_reset(state_);
  removed_energy_ = ref_energy_ = 0;
  dc_m0_ = dc_m1_ = 0;
  frames_ = 0;
}

void EchoCanceller::played(const float* pcm, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) history_[static_cast<std::size_t>((played_ + static_cast<std::int64_t>(i)) % kHistory)] = pcm[i];
  played_ += static_cast<std::int64_t>(n);
}

bool EchoCanceller::cancel(float* pcm, int n, std::int64_t echo_from) noexcept {
  if (n <= 0 || n % kFrame != 0) return false;
  // The reference runs kLeadMs ahead of the echo, which then falls that far into the filter.
  const std::int64_t from = echo_from + kLeadMs * kRate / 1000;
  if (from < 0 || from + n > played_ || played_ - from > kHistory) return false;
  for (int f = 0; f < n; f += kFrame) {
    double ref_power = 0, removed = 0;
    for (int i = 0; i < kFrame; ++i) {
      const float r = history_[static_cast<std::size_t>((from + f + i) % kHistory)];
      ref_power += static_cast<double>(r) * r;
      ref_[static_cast<std::size_t>(i)] = to_int16(r);
      in_[static_cast<std::size_t>(i)] = to_int16(pcm[f + i]);
    }
    speex_echo_cancellation(state_, in_.data(), ref_.data(), out_.data());
    for (int i = 0; i < kFrame; ++i) {
      const float in = pcm[f + i], out = static_cast<float>(out_[static_cast<std::size_t>(i)]) / kScale;
      // speexdsp first takes DC and rumble out of what comes in (a notch at 0 Hz, pole radius 0.992
      // at 48 kHz); what it took beyond that is the echo it found.
      const double vout = dc_m0_ + in;
      dc_m0_ = dc_m1_ + 2 * (-in + kDcRadius * vout);
      dc_m1_ = in - kDcDen2 * vout;
      const double notched = kDcRadius * vout;
      removed += (notched - out) * (notched - out);
      pcm[f + i] = out;
    }
    if (ref_power / kFrame > kSoundingPower) {
      removed_energy_ += removed;
      ref_energy_ += ref_power;
    }
    ++frames_;
  }
  return true;
}

double EchoCanceller::found_db() const noexcept {
  if (ref_energy_ <= 0 || removed_energy_ <= 0) return -99;
  return std::max(10 * std::log10(removed_energy_ / ref_energy_), -99.0);
}

}  // namespace ptt::server
