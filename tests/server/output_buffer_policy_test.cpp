// When the output buffer grows and shrinks: fed underrun counts and times as the watchdog would.
#include <gtest/gtest.h>

#include "output_buffer_policy.hpp"

namespace ptt::server {
namespace {

using namespace std::chrono_literals;
using Policy = OutputBufferPolicy;

TEST(OutputBufferPolicy, OneUnderrunIsNotEnoughButTwoInTenSecondsGrowTheBufferAfterTheTalk) {
  const auto t0 = Policy::Clock::now();
  Policy p(t0 - 10s);  // opened well before: past its settling time
  EXPECT_EQ(p.latency_ms(), 0);
  EXPECT_FALSE(p.update(0, t0 + 2s, true));
  EXPECT_FALSE(p.update(1, t0 + 3s, false));
  EXPECT_FALSE(p.update(1, t0 + 12s, false));  // the first one is out of the window again
  EXPECT_FALSE(p.update(2, t0 + 14s, false));  // one in the window
  EXPECT_FALSE(p.update(3, t0 + 15s, true));   // two, but a talk is playing
  const auto grown = p.update(3, t0 + 16s, false);
  ASSERT_TRUE(grown);
  EXPECT_EQ(grown->from_level, 0);
  EXPECT_EQ(grown->to_level, 1);
  EXPECT_EQ(grown->underruns, 2);
  EXPECT_EQ(p.latency_ms(), 60);
}

// A device back from standby fills its buffer in a burst of callbacks: underruns in its first
// second are its start, not a reason to grow; later ones are.
TEST(OutputBufferPolicy, UnderrunsJustAfterAReopeningDoNotCount) {
  const auto t0 = Policy::Clock::now();
  Policy p(t0 - 10s);
  p.reopened(t0);
  EXPECT_FALSE(p.update(4, t0 + 500ms, true));  // four, but in the reopened stream's first second
  EXPECT_FALSE(p.update(4, t0 + 2s, false));
  EXPECT_EQ(p.latency_ms(), 0);
  EXPECT_FALSE(p.update(5, t0 + 3s, false));
  EXPECT_TRUE(p.update(6, t0 + 4s, false));  // two after it settled
  EXPECT_EQ(p.latency_ms(), 60);
}

// Reopening under a talk adds a gap longer than an underrun's: only a talk breaking up often is
// worth it.
TEST(OutputBufferPolicy, UnderATalkItGrowsOnlyOnceUnderrunsComeOften) {
  const auto t0 = Policy::Clock::now();
  Policy p(t0 - 10s);  // opened well before: past its settling time
  EXPECT_FALSE(p.update(2, t0 + 1s, true));
  EXPECT_FALSE(p.update(3, t0 + 2s, true));
  const auto grown = p.update(4, t0 + 3s, true);
  ASSERT_TRUE(grown);
  EXPECT_EQ(grown->underruns, 4);
  EXPECT_EQ(p.latency_ms(), 60);
}

TEST(OutputBufferPolicy, UnderrunsJustAfterTheStreamOpensDoNotCount) {
  const auto t0 = Policy::Clock::now();
  Policy p(t0);
  EXPECT_FALSE(p.update(5, t0 + 2s, false));  // PulseAudio's start
  EXPECT_FALSE(p.update(6, t0 + 4s, false));
  EXPECT_TRUE(p.update(7, t0 + 5s, false));
}

TEST(OutputBufferPolicy, TheReopeningsOwnGapDoesNotGrowItAgain) {
  const auto t0 = Policy::Clock::now();
  Policy p(t0 - 10s);  // opened well before: past its settling time
  ASSERT_TRUE(p.update(2, t0 + 2s, false));
  EXPECT_FALSE(p.update(4, t0 + 4s, false));  // within the settling time: ignored
  EXPECT_EQ(p.latency_ms(), 60);
  ASSERT_TRUE(p.update(6, t0 + 6s, false));  // later ones count
  EXPECT_EQ(p.latency_ms(), 100);
}

TEST(OutputBufferPolicy, GrowsNoFurtherThanTheLargestStep) {
  const auto t0 = Policy::Clock::now();
  Policy p(t0 - 10s);  // opened well before: past its settling time
  std::uint64_t n = 0;
  for (int s = 2; s < 60; s += 2) p.update(n += 5, t0 + std::chrono::seconds(s), true);
  EXPECT_EQ(p.latency_ms(), Policy::kLevelsMs.back());
  EXPECT_FALSE(p.update(n += 5, t0 + 61s, true));
}

TEST(OutputBufferPolicy, ShrinksAStepAfterAQuietMinuteAndOnlyBetweenTalks) {
  const auto t0 = Policy::Clock::now();
  Policy p(t0 - 10s);  // opened well before: past its settling time
  ASSERT_TRUE(p.update(2, t0 + 1s, false));
  ASSERT_TRUE(p.update(4, t0 + 5s, false));
  EXPECT_EQ(p.latency_ms(), 100);
  EXPECT_FALSE(p.update(4, t0 + 50s, false));   // not a minute yet
  EXPECT_FALSE(p.update(4, t0 + 70s, true));    // a talk is playing: no reopening under it
  const auto shrunk = p.update(4, t0 + 71s, false);
  ASSERT_TRUE(shrunk);
  EXPECT_EQ(shrunk->to_level, 1);
  EXPECT_EQ(p.latency_ms(), 60);
  EXPECT_FALSE(p.update(4, t0 + 100s, false));  // a minute after the last change, not the last underrun
  ASSERT_TRUE(p.update(4, t0 + 132s, false));
  EXPECT_EQ(p.latency_ms(), 0);
  EXPECT_FALSE(p.update(4, t0 + 300s, false));  // nothing below the device's own
}

TEST(OutputBufferPolicy, AnUnderrunRestartsTheQuietMinute) {
  const auto t0 = Policy::Clock::now();
  Policy p(t0 - 10s);  // opened well before: past its settling time
  ASSERT_TRUE(p.update(2, t0 + 1s, false));
  EXPECT_FALSE(p.update(3, t0 + 40s, false));  // one: not enough to grow, enough to stay
  EXPECT_FALSE(p.update(3, t0 + 90s, false));
  EXPECT_TRUE(p.update(3, t0 + 101s, false));
}

}  // namespace
}  // namespace ptt::server
