// speexdsp's preprocessor (noise suppression + automatic gain control) for 48 kHz mono frames.
// The gain is bounded: the professor's speakers share the room with the microphone, and unbounded
// gain turns a quiet student into acoustic feedback.
#pragma once

#include <array>
#include <cstddef>

#include "ptt/audio_format.hpp"

struct SpeexPreprocessState_;

namespace ptt {

struct PreprocessorConfig {
  int frame_samples = audio_format::kFrameSamples;
  bool denoise = true;
  int noise_suppress_db = -25;  // attenuation of noise (negative dB)
  bool agc = true;
  float agc_target = 12000.0f;  // target level on the int16 scale (about -8.7 dBFS)
  int agc_max_gain_db = 18;     // bound on the automatic gain
};

class Preprocessor {
 public:
  static constexpr std::size_t kMaxFrame = audio_format::kFrameSamples;

  explicit Preprocessor(const PreprocessorConfig& config = {}) noexcept;
  ~Preprocessor();
  Preprocessor(const Preprocessor&) = delete;
  Preprocessor& operator=(const Preprocessor&) = delete;

  bool ok() const noexcept { return state_ != nullptr; }
  int frame_samples() const noexcept { return frame_; }
  // speexdsp's overlap-add delays the output by one whole frame: use short frames where latency matters.
  int delay_samples() const noexcept { return frame_; }
  // Processes one frame of frame_samples() float samples in [-1, 1] in place.
  void process(float* samples) noexcept;
  // Current AGC gain in dB (0 when AGC is off).
  float agc_gain_db() const noexcept;
  // The most the AGC may raise its gain to, in dB: hold_agc_gain() sets it to the gain it has now
  // (it may still lower it), restore_agc_gain() back to the configured bound.
  void hold_agc_gain() noexcept;
  void restore_agc_gain() noexcept;

 private:
  SpeexPreprocessState_* state_ = nullptr;
  int frame_ = 0;
  bool agc_ = false;
  int agc_max_gain_db_ = 0;
  std::array<short, kMaxFrame> scratch_{};
};

}  // namespace ptt
