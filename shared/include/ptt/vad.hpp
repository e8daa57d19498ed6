// The project's voice-activity detector (speexdsp's own VAD is a placeholder that calls almost
// everything speech).
//
// It works on 10 ms sub-frames of 48 kHz audio and combines three cues:
//  - energy in the speech band (200-3800 Hz) against an adaptive noise floor (minimum statistics over
//    about 1.5 s, so a steady noise becomes the floor while the dips between syllables keep it low
//    under speech),
//  - the share of the signal's energy that lies in the speech band (broadband hiss spreads its energy
//    up to 24 kHz; voice concentrates it below 4 kHz),
//  - an absolute floor, so a near-silent room is never speech.
// Onset needs two speech sub-frames in a row (a click is not a word); a hangover keeps the decision
// on through the short pauses inside a sentence.
#pragma once

#include <array>
#include <cstddef>

#include "ptt/audio_format.hpp"

namespace ptt {

struct VadConfig {
  float onset_snr_db = 9.0f;       // band energy above the floor to start speech
  float continue_snr_db = 5.0f;    // ... to stay in speech
  float min_band_ratio = 0.35f;    // share of energy in 200-3800 Hz
  float absolute_floor_db = -58.0f;  // band level (dBFS) below which nothing is speech
  int hangover_ms = 300;
  float initial_floor_db = -65.0f;   // assumed floor until the tracker has seen enough
};

class VoiceActivityDetector {
 public:
  static constexpr int kSubframe = audio_format::kSubframeSamples;  // 10 ms

  explicit VoiceActivityDetector(const VadConfig& config = {}) noexcept;

  // Classifies a frame whose length is a multiple of 10 ms (480 samples); returns true if any part of
  // it is speech (after hangover). Samples past the last whole sub-frame are ignored.
  bool process(const float* samples, std::size_t n) noexcept;
  bool active() const noexcept { return active_; }
  float noise_floor_db() const noexcept { return floor_db_; }
  float last_snr_db() const noexcept { return snr_db_; }
  void reset() noexcept;

 private:
  struct Biquad {
    float b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0, z1 = 0, z2 = 0;
    float run(float x) noexcept {
      const float y = b0 * x + z1;
      z1 = b1 * x - a1 * y + z2;
      z2 = b2 * x - a2 * y;
      return y;
    }
  };
  bool subframe(const float* x) noexcept;
  void track_floor(float band_db) noexcept;

  VadConfig config_;
  Biquad highpass_, lowpass_;
  static constexpr int kBlocks = 10;       // floor window: 10 blocks ...
  static constexpr int kBlockLength = 15;  // ... of 15 sub-frames = 1.5 s
  static constexpr float kUnset = 1e9f;
  std::array<float, kBlocks> block_min_{};
  int block_pos_ = 0, blocks_seen_ = 0;
  float current_block_min_;
  float floor_db_;
  float snr_db_ = 0;
  int run_ = 0;       // consecutive speech-like sub-frames
  int hangover_ = 0;  // sub-frames left to hold the decision on
  bool active_ = false;
};

}  // namespace ptt
