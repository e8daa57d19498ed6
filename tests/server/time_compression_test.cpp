// Time compression: one pitch period out, no click, the rest of the signal untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "time_compression.hpp"

using ptt::server::TimeCompression;

namespace {

std::vector<float> tone(double hz, int samples, double phase = 0) {
  std::vector<float> v(static_cast<std::size_t>(samples));
  for (int i = 0; i < samples; ++i) v[i] = static_cast<float>(0.5 * std::sin(2 * std::numbers::pi * hz * i / 48000.0 + phase));
  return v;
}

}  // namespace

TEST(TimeCompression, FindsThePeriodOfAVoicedSound) {
  for (double hz : {100.0, 160.0, 240.0, 390.0}) {
    SCOPED_TRACE(hz);
    auto v = tone(hz, TimeCompression::kNeeds);
    // Add a second harmonic, as a voice has.
    for (int i = 0; i < TimeCompression::kNeeds; ++i) v[i] += static_cast<float>(0.2 * std::sin(2 * std::numbers::pi * 2 * hz * i / 48000.0));
    const int lag = TimeCompression::best_lag(v.data(), TimeCompression::kMaxLag);
    const double period = 48000.0 / hz;
    // The period itself or a whole multiple of it, to within a sample.
    const double periods = lag / period;
    EXPECT_NEAR(periods, std::round(periods), 1.0 / period) << "lag " << lag;
    EXPECT_GE(std::round(periods), 1);
  }
}

TEST(TimeCompression, CuttingWholePeriodsLeavesAPeriodicSignalUnchanged) {
  // 200 Hz: a period of exactly 240 samples. Cutting it must leave the same tone, sample for
  // sample (no click at the seam), one period shorter.
  const auto v = tone(200, 2400);
  auto w = v;
  const int lag = TimeCompression::best_lag(w.data(), TimeCompression::kMaxLag);
  ASSERT_EQ(lag % 240, 0);
  const int size = TimeCompression::remove(w.data(), static_cast<int>(w.size()), lag);
  EXPECT_EQ(size, 2400 - lag);
  float worst = 0;
  for (int i = 0; i < size; ++i) worst = std::max(worst, std::abs(w[i] - v[i]));
  EXPECT_LT(worst, 1e-4f);
}

TEST(TimeCompression, TheSeamIsAFadeNotAJump) {
  // Noise-like input has no period: the cut still cross-fades, so no step between neighbouring
  // samples is larger than the largest in the input.
  std::vector<float> v(TimeCompression::kNeeds);
  unsigned x = 12345;
  for (auto& s : v) {
    x = x * 1103515245u + 12345u;
    s = static_cast<float>((x >> 16) % 2001) / 10000.0f - 0.1f;
  }
  float max_step_in = 0;
  for (std::size_t i = 1; i < v.size(); ++i) max_step_in = std::max(max_step_in, std::abs(v[i] - v[i - 1]));
  auto w = v;
  const int lag = TimeCompression::best_lag(w.data(), TimeCompression::kMaxLag);
  EXPECT_GE(lag, TimeCompression::kMinLag);
  EXPECT_LE(lag, TimeCompression::kMaxLag);
  const int size = TimeCompression::remove(w.data(), static_cast<int>(w.size()), lag);
  ASSERT_EQ(size, static_cast<int>(v.size()) - lag);
  float max_step_out = 0;
  for (int i = 1; i < size; ++i) max_step_out = std::max(max_step_out, std::abs(w[i] - w[i - 1]));
  EXPECT_LE(max_step_out, max_step_in * 1.02f);  // the fade weights move by 1/lag a sample
  // After the fade the input follows, unchanged, one lag later.
  for (int i = lag; i < size; ++i) ASSERT_EQ(w[i], v[i + lag]) << i;
}

TEST(TimeCompression, TooLittleAudioIsLeftAlone) {
  auto v = tone(200, 300);
  const auto before = v;
  EXPECT_EQ(TimeCompression::remove(v.data(), 300, 240), 300);
  EXPECT_EQ(v, before);
}
