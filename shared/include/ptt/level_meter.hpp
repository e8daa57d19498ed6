// Peak and RMS level of a signal in dBFS, with a peak that falls back slowly like a VU meter's, for
// the student's "you are live" meter and the server's talk statistics.
#pragma once

#include <cstddef>

#include "ptt/audio_format.hpp"

namespace ptt {

class LevelMeter {
 public:
  static constexpr float kFloorDb = -96.0f;

  // release_db_per_s: how fast the held peak falls when the signal gets quieter.
  explicit LevelMeter(int sample_rate = audio_format::kSampleRate, float release_db_per_s = 30.0f) noexcept
      : sample_rate_(sample_rate), release_db_per_s_(release_db_per_s) {}

  void process(const float* samples, std::size_t n) noexcept;
  float peak_db() const noexcept { return peak_db_; }    // held peak, falls at the release rate
  float rms_db() const noexcept { return rms_db_; }      // RMS of the last block
  // 0..1 for a UI bar: -60 dBFS and below is 0, 0 dBFS is 1.
  float display_level() const noexcept;
  void reset() noexcept { peak_db_ = rms_db_ = kFloorDb; }

 private:
  int sample_rate_;
  float release_db_per_s_;
  float peak_db_ = kFloorDb;
  float rms_db_ = kFloorDb;
};

float to_db(float amplitude) noexcept;

}  // namespace ptt
