#include "ptt/vad.hpp"

#include <algorithm>
#include <cmath>

namespace ptt {
namespace {

constexpr float kPi = 3.14159265358979f;
constexpr float kRate = static_cast<float>(audio_format::kSampleRate);

// RBJ cookbook second-order Butterworth sections.
template <typename B>
void design(B& f, float cutoff, bool highpass) {
  const float w = 2.0f * kPi * cutoff / kRate, cw = std::cos(w), alpha = std::sin(w) / (2.0f * 0.7071f);
  const float a0 = 1.0f + alpha;
  const float k = highpass ? (1.0f + cw) / 2.0f : (1.0f - cw) / 2.0f;
  f.b0 = k / a0;
  f.b1 = (highpass ? -2.0f * k : 2.0f * k) / a0;
  f.b2 = k / a0;
  f.a1 = -2.0f * cw / a0;
  f.a2 = (1.0f - alpha) / a0;
}

float energy_db(double energy, int n) {
  const double mean = energy / n;
  return mean > 1e-12 ? static_cast<float>(10.0 * std::log10(mean)) : -120.0f;
}

}  // namespace

VoiceActivityDetector::VoiceActivityDetector(const VadConfig& config) noexcept : config_(config) { reset(); }

void VoiceActivityDetector::reset() noexcept {
  design(highpass_, 200.0f, true);
  design(lowpass_, 3800.0f, false);
  block_min_.fill(kUnset);
  block_pos_ = blocks_seen_ = 0;
  current_block_min_ = kUnset;
  floor_db_ = config_.initial_floor_db;
  snr_db_ = 0;
  run_ = hangover_ = 0;
  active_ = false;
}

bool VoiceActivityDetector::process(const float* samples, std::size_t n) noexcept {
  bool any = false;
  for (std::size_t off = 0; off + kSubframe <= n; off += kSubframe) any |= subframe(samples + off);
  return any;
}

void VoiceActivityDetector::track_floor(float band_db) noexcept {
  current_block_min_ = std::min(current_block_min_, band_db);
  if (++block_pos_ == kBlockLength) {
    std::rotate(block_min_.begin(), block_min_.begin() + 1, block_min_.end());
    block_min_.back() = current_block_min_;
    if (blocks_seen_ < kBlocks) ++blocks_seen_;
    block_pos_ = 0;
    current_block_min_ = kUnset;
  }
  // Until the first block (150 ms) is complete the assumed floor stands in for the measured one; in
  // the client the detector runs from the moment the microphone opens, long before the first press.
  float m = std::min(*std::min_element(block_min_.begin(), block_min_.end()), current_block_min_);
  if (blocks_seen_ == 0) m = std::min(m, config_.initial_floor_db);
  // The minimum of a noisy energy sits below its mean; 1.5 dB compensates for 10 ms sub-frames.
  floor_db_ = m + 1.5f;
}

bool VoiceActivityDetector::subframe(const float* x) noexcept {
  double full = 0, band = 0;
  for (int i = 0; i < kSubframe; ++i) {
    const float y = lowpass_.run(highpass_.run(x[i]));
    full += static_cast<double>(x[i]) * x[i];
    band += static_cast<double>(y) * y;
  }
  const float band_db = energy_db(band, kSubframe);
  const float ratio = full > 1e-12 ? static_cast<float>(band / full) : 0.0f;
  track_floor(band_db);
  snr_db_ = band_db - floor_db_;

  const float needed = active_ ? config_.continue_snr_db : config_.onset_snr_db;
  const bool speech_like = band_db > config_.absolute_floor_db && snr_db_ > needed && ratio > config_.min_band_ratio;
  run_ = speech_like ? run_ + 1 : 0;
  const int hangover_subframes = config_.hangover_ms / 10;
  if (speech_like && (active_ || run_ >= 2)) {
    active_ = true;
    hangover_ = hangover_subframes;
  } else if (active_ && --hangover_ <= 0) {
    active_ = false;
  }
  return active_;
}

}  // namespace ptt
