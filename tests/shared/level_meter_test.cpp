#include <gtest/gtest.h>

#include <vector>

#include "ptt/level_meter.hpp"
#include "signals.hpp"

TEST(LevelMeter, FullScaleSineIsZeroDbPeakAndMinusThreeRms) {
  ptt::LevelMeter m;
  const auto x = ptt::test::sine(1000, 1.0f, 4800);
  m.process(x.data(), x.size());
  EXPECT_NEAR(m.peak_db(), 0.0f, 0.1f);
  EXPECT_NEAR(m.rms_db(), -3.01f, 0.1f);
  EXPECT_NEAR(m.display_level(), 1.0f, 0.01f);
}

TEST(LevelMeter, HalfAmplitudeIsMinusSixDb) {
  ptt::LevelMeter m;
  const auto x = ptt::test::sine(1000, 0.5f, 4800);
  m.process(x.data(), x.size());
  EXPECT_NEAR(m.peak_db(), -6.02f, 0.1f);
}

TEST(LevelMeter, SilenceSitsAtTheFloor) {
  ptt::LevelMeter m;
  std::vector<float> zeros(960, 0.0f);
  m.process(zeros.data(), zeros.size());
  EXPECT_EQ(m.rms_db(), ptt::LevelMeter::kFloorDb);
  EXPECT_EQ(m.peak_db(), ptt::LevelMeter::kFloorDb);
  EXPECT_EQ(m.display_level(), 0.0f);
}

TEST(LevelMeter, PeakFallsAtTheReleaseRate) {
  ptt::LevelMeter m(ptt::audio_format::kSampleRate, 30.0f);
  const auto loud = ptt::test::sine(1000, 1.0f, 960);
  m.process(loud.data(), loud.size());
  std::vector<float> zeros(4800, 0.0f);  // 100 ms of silence: the peak falls 3 dB
  m.process(zeros.data(), zeros.size());
  EXPECT_NEAR(m.peak_db(), -3.0f, 0.15f);
  EXPECT_EQ(m.rms_db(), ptt::LevelMeter::kFloorDb);
}
