#include "ptt/preprocessor.hpp"

#include <speex/speex_preprocess.h>

#include <algorithm>
#include <cmath>

namespace ptt {

Preprocessor::Preprocessor(const PreprocessorConfig& c) noexcept {
  if (c.frame_samples <= 0 || static_cast<std::size_t>(c.frame_samples) > kMaxFrame) return;
  frame_ = c.frame_samples;
  state_ = speex_preprocess_state_init(frame_, audio_format::kSampleRate);
  if (!state_) return;
  int denoise = c.denoise ? 1 : 0, suppress = c.noise_suppress_db, agc = c.agc ? 1 : 0, off = 0;
  int max_gain = c.agc_max_gain_db;
  agc_max_gain_db_ = max_gain;
  float level = c.agc_target;
  speex_preprocess_ctl(state_, SPEEX_PREPROCESS_SET_DENOISE, &denoise);
  speex_preprocess_ctl(state_, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &suppress);
  // speexdsp's own VAD is off by default (ours is in vad.hpp); setting it only prints a warning.
  speex_preprocess_ctl(state_, SPEEX_PREPROCESS_SET_DEREVERB, &off);
  // AGC exists only in speexdsp's floating-point build; a fixed-point build refuses the call.
  agc_ = agc && speex_preprocess_ctl(state_, SPEEX_PREPROCESS_SET_AGC, &agc) == 0;
  if (agc_) {
    speex_preprocess_ctl(state_, SPEEX_PREPROCESS_SET_AGC_LEVEL, &level);
    speex_preprocess_ctl(state_, SPEEX_PREPROCESS_SET_AGC_MAX_GAIN, &max_gain);
  }
}

Preprocessor::~Preprocessor() {
  if (state_) speex_preprocess_state_destroy(state_);
}

void Preprocessor::process(float* samples) noexcept {
  if (!state_) return;
  for (int i = 0; i < frame_; ++i)
    scratch_[i] = static_cast<short>(std::lrint(std::clamp(samples[i], -1.0f, 1.0f) * 32767.0f));
  speex_preprocess_run(state_, scratch_.data());
  for (int i = 0; i < frame_; ++i) samples[i] = static_cast<float>(scratch_[i]) / 32768.0f;
}

void Preprocessor::hold_agc_gain() noexcept {
  if (!agc_) return;
  spx_int32_t held = std::max(0, static_cast<int>(agc_gain_db()));
  speex_preprocess_ctl(state_, SPEEX_PREPROCESS_SET_AGC_MAX_GAIN, &held);
}

void Preprocessor::restore_agc_gain() noexcept {
  if (!agc_) return;
  spx_int32_t bound = agc_max_gain_db_;
  speex_preprocess_ctl(state_, SPEEX_PREPROCESS_SET_AGC_MAX_GAIN, &bound);
}

float Preprocessor::agc_gain_db() const noexcept {
  if (!state_ || !agc_) return 0.0f;
  spx_int32_t gain = 0;  // SPEEX_PREPROCESS_GET_AGC_GAIN reports whole dB
  speex_preprocess_ctl(state_, SPEEX_PREPROCESS_GET_AGC_GAIN, &gain);
  return static_cast<float>(gain);
}

}  // namespace ptt
