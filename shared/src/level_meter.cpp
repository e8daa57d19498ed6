#include "ptt/level_meter.hpp"

#include <algorithm>
#include <cmath>

namespace ptt {

float to_db(float amplitude) noexcept {
  return amplitude > 1.6e-5f ? 20.0f * std::log10(amplitude) : LevelMeter::kFloorDb;
}

void LevelMeter::process(const float* samples, std::size_t n) noexcept {
  if (n == 0) return;
  float peak = 0.0f;
  double energy = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const float a = std::fabs(samples[i]);
    peak = std::max(peak, a);
    energy += static_cast<double>(samples[i]) * samples[i];
  }
  rms_db_ = to_db(static_cast<float>(std::sqrt(energy / static_cast<double>(n))));
  const float fallen = peak_db_ - release_db_per_s_ * static_cast<float>(n) / static_cast<float>(sample_rate_);
  peak_db_ = std::max({to_db(peak), fallen, kFloorDb});
}

float LevelMeter::display_level() const noexcept { return std::clamp((peak_db_ + 60.0f) / 60.0f, 0.0f, 1.0f); }

}  // namespace ptt
