// The room's coupling, estimated from what was played and what came back: synthetic rooms with a
// known gain and delay, the student's own voice on top, and the real loop (what comes back is
// played again).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "feedback_estimator.hpp"
#include "signals.hpp"

namespace ptt::server {
namespace {

namespace t = ptt::test;

constexpr int kRate = 48000, kBlock = 480;  // 10 ms blocks, as the server hands them over
constexpr std::int64_t kT0 = 5'000'000'000;  // the room clock's µs when the talk starts

// Speech from the test voice, starting `offset_s` in and looped, `seconds` long.
std::vector<float> voice(double offset_s, double seconds, float gain) {
  const auto s = t::speech();
  std::vector<float> out(static_cast<std::size_t>(seconds * kRate));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = gain * s[(i + static_cast<std::size_t>(offset_s * kRate)) % s.size()];
  return out;
}

// Feeds both streams block by block with datings that jitter by up to `jitter_ms` (as device
// latency readings and the page's render clock do); returns the estimate at the end.
FeedbackEstimator::Estimate run(const std::vector<float>& played, const std::vector<float>& captured, double jitter_ms,
                                unsigned seed = 1) {
  FeedbackEstimator e;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(0.0, jitter_ms * 1000);
  for (std::size_t at = 0; at + kBlock <= played.size(); at += kBlock) {
    const auto us = kT0 + static_cast<std::int64_t>(at) * 1000 / 48;
    e.played(played.data() + at, kBlock, static_cast<std::int64_t>(at), us + static_cast<std::int64_t>(jitter(rng)));
    e.captured(captured.data() + at, kBlock, static_cast<std::int64_t>(at), us + static_cast<std::int64_t>(jitter(rng)));
  }
  return e.estimate();
}

// The real loop, `seconds` of the talker's voice: what comes back through the room (`room_ms`
// later, at `room_db`) is played again after the server's own delay (`pipeline_ms`). Returns
// {played, captured}.
std::pair<std::vector<float>, std::vector<float>> loop(double seconds, int pipeline_ms, int room_ms, double room_db) {
  const double g = std::pow(10.0, room_db / 20);
  const auto pipeline = static_cast<std::size_t>(pipeline_ms * 48), room = static_cast<std::size_t>(room_ms * 48);
  const auto s = voice(0.0, seconds, 0.3f);
  std::vector<float> captured(s.size()), played(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    played[i] = i >= pipeline ? captured[i - pipeline] : 0.0f;
    captured[i] = s[i] + (i >= room ? static_cast<float>(g * played[i - room]) : 0.0f);
  }
  return {played, captured};
}

TEST(FeedbackEstimator, FindsTheRoomsGainAndDelayUnderTheStudentsOwnVoice) {
  for (const auto& [gain_db, delay_ms] : {std::pair{-6.0, 120}, {-12.0, 60}, {0.0, 250}, {-3.0, 400}}) {
    const auto played = voice(0.0, 4.0, 0.3f);
    auto captured = voice(1.7, 4.0, 0.3f);  // the student's own voice
    const double g = std::pow(10.0, gain_db / 20);
    const auto d = static_cast<std::size_t>(delay_ms * 48);
    for (std::size_t i = d; i < captured.size(); ++i) captured[i] += static_cast<float>(g * played[i - d]);
    const auto e = run(played, captured, 2.0);
    SCOPED_TRACE(::testing::Message() << gain_db << " dB, " << delay_ms << " ms: estimated " << e.coupling_db << " dB, "
                                      << e.delay_ms << " ms, correlation " << e.correlation);
    EXPECT_TRUE(e.valid);
    EXPECT_NEAR(e.coupling_db, gain_db, 2.0);  // the student's voice leaves a chance term
    EXPECT_NEAR(e.delay_ms, delay_ms, 3.0);    // within the datings' jitter
  }
}

// A weak coupling under the student's own voice at the same level (-20 dB) is not a danger: it may
// go unseen, but it is never taken for a strong one.
TEST(FeedbackEstimator, AWeakCouplingIsNeverTakenForAStrongOne) {
  const auto played = voice(0.0, 4.0, 0.3f);
  auto captured = voice(1.7, 4.0, 0.3f);
  const auto d = static_cast<std::size_t>(200 * 48);
  for (std::size_t i = d; i < captured.size(); ++i) captured[i] += 0.1f * played[i - d];
  const auto e = run(played, captured, 2.0);
  if (e.valid) {
    EXPECT_LT(e.coupling_db, -14.0);
  }
}

TEST(FeedbackEstimator, NoCouplingIsNotMistakenForSome) {
  const auto played = voice(0.0, 4.0, 0.3f), captured = voice(1.7, 4.0, 0.3f);
  const auto e = run(played, captured, 2.0);
  EXPECT_FALSE(e.valid) << e.coupling_db << " dB at " << e.delay_ms << " ms, correlation " << e.correlation;
  FeedbackEstimator silent;
  EXPECT_FALSE(silent.estimate().valid) << "nothing heard yet";
}

// The real loop: what comes back is played again after the server's own delay, so the played
// signal is the captured one 70 ms later. That copy (a negative lag) is not the room.
TEST(FeedbackEstimator, TheServersOwnDelayIsNotTakenForTheRoom) {
  const auto [played, captured] = loop(5.0, 70, 150, -8.0);
  const auto e = run(played, captured, 1.0);
  EXPECT_TRUE(e.valid);
  EXPECT_NEAR(e.coupling_db, -8.0, 1.5);
  EXPECT_NEAR(e.delay_ms, 150.0, 3.0);
}

// A delay shown not to be the room's is not reported again, until the next talk (reset).
TEST(FeedbackEstimator, AnExcludedDelayIsNotReportedAgainUntilReset) {
  const auto streams = loop(5.0, 70, 150, -6.0);  // named, not bound: clang's lambdas cannot capture bindings
  const auto& played = streams.first;
  const auto& captured = streams.second;
  FeedbackEstimator e;
  const auto feed = [&] {
    for (std::size_t at = 0; at + kBlock <= played.size(); at += kBlock) {
      const auto us = kT0 + static_cast<std::int64_t>(at) * 1000 / 48;
      e.played(played.data() + at, kBlock, static_cast<std::int64_t>(at), us);
      e.captured(captured.data() + at, kBlock, static_cast<std::int64_t>(at), us);
    }
  };
  feed();
  ASSERT_TRUE(e.estimate().valid);
  EXPECT_NEAR(e.estimate().delay_ms, 150.0, 3.0);
  e.exclude(150.0);
  const auto after = e.estimate();
  EXPECT_TRUE(!after.valid || std::abs(after.delay_ms - 150.0) > 5.0) << after.delay_ms << " ms";
  e.reset();
  feed();
  EXPECT_NEAR(e.estimate().delay_ms, 150.0, 3.0);
}

// A loop of the talker's voice through the server (85 ms) and the room (100 ms, at `room_db`),
// estimated every 500 ms as the server does; returns what the tracker decided at each look.
std::vector<CouplingTracker::Decision> loop_looks(double room_db) {
  const auto [played, captured] = loop(5.5, 85, 100, room_db);
  FeedbackEstimator e;
  CouplingTracker tracker;
  std::vector<CouplingTracker::Decision> looks;
  for (std::size_t at = 0; at + kBlock <= played.size(); at += kBlock) {
    const auto us = kT0 + static_cast<std::int64_t>(at) * 1000 / 48;
    e.played(played.data() + at, kBlock, static_cast<std::int64_t>(at), us);
    e.captured(captured.data() + at, kBlock, static_cast<std::int64_t>(at), us);
    if ((at + kBlock) % (kRate / 2) == 0) looks.push_back(tracker.update(e.estimate()));
  }
  return looks;
}

// With a weak coupling (-20 dB) the talker's own voice can resemble what was played a few hundred
// ms earlier (a steady pitch): one look may report -8 dB. The tracker never acts on that.
TEST(FeedbackEstimator, AVoiceThatRepeatsItselfIsNotTakenForFeedback) {
  double strongest = -99;
  for (const auto& d : loop_looks(-20.0)) strongest = std::max(strongest, d.coupling_db);
  std::printf("strongest coupling decided: %.1f dB\n", strongest);
  EXPECT_LT(strongest, -13.0);
}

// A real coupling holds from look to look: decided within the first three looks of speech.
TEST(FeedbackEstimator, ARealCouplingIsDecidedWithinThreeLooks) {
  const auto looks = loop_looks(-6.0);
  ASSERT_GE(looks.size(), 4u);
  for (std::size_t i = 3; i < looks.size(); ++i) {
    EXPECT_NEAR(looks[i].coupling_db, -6.0, 2.0) << "look " << i;
    EXPECT_NEAR(looks[i].delay_ms, 100.0, 3.0) << "look " << i;
  }
}

// The professor turns the volume far down: what is played (the talk itself, 300 ms later through
// the server) is 30 dB under what comes in, and nothing comes back through a room. A held vowel
// resembles itself at every pitch period, which then looks like a coupling 30 dB louder than the
// resemblance (+20 dB and more); the estimate says it cannot tell rather than report one.
TEST(FeedbackEstimator, APlaybackFarQuieterThanTheTalkGivesNoEstimate) {
  const auto talk = t::vowel(150.0f, 0.3f, 4 * kRate);
  std::vector<float> played(talk.size());
  const std::size_t pipeline = 300 * 48;
  for (std::size_t i = pipeline; i < played.size(); ++i) played[i] = 0.03f * talk[i - pipeline];
  for (const auto& [seed, jitter] : {std::pair{1u, 0.0}, std::pair{2u, 5.0}}) {
    const auto e = run(played, talk, jitter, seed);
    std::printf("valid %d, %.1f dB at %.0f ms (correlation %.2f)\n", e.valid, e.coupling_db, e.delay_ms, e.correlation);
    EXPECT_FALSE(e.valid);
  }
}

// Where the canceller finds the echo: what was played counts its own positions (from wherever the
// device's stream started), what came in its talk's timestamps, the two dated on the room's clock
// (arrival 40 ms after capture). A captured timestamp plus echo_offset is the played position
// whose sound it carries back, to within a millisecond.
TEST(FeedbackEstimator, TheEchoOffsetPointsAtThePlayedSampleThatCameBack) {
  constexpr std::int64_t kPlayedFrom = 1'234'567;
  constexpr std::size_t kRoom = 150 * 48, kTransit = 40 * 48;
  const auto played = voice(0.0, 4.0, 0.3f), student = voice(2.7, 4.0, 0.1f);
  std::vector<float> captured(played.size());
  for (std::size_t i = 0; i < captured.size(); ++i) captured[i] = student[i] + (i >= kRoom ? 0.5f * played[i - kRoom] : 0.0f);
  FeedbackEstimator e;
  std::int64_t offset = 0;
  EXPECT_FALSE(e.echo_offset(100, offset)) << "nothing placed yet";
  for (std::size_t at = 0; at + kBlock <= played.size(); at += kBlock) {
    const auto us = kT0 + static_cast<std::int64_t>(at) * 1000 / 48;
    e.played(played.data() + at, kBlock, kPlayedFrom + static_cast<std::int64_t>(at), us);
    e.captured(captured.data() + at, kBlock, static_cast<std::int64_t>(at), us + static_cast<std::int64_t>(kTransit) * 1000 / 48);
  }
  const auto found = e.estimate();
  ASSERT_TRUE(found.valid);
  EXPECT_NEAR(found.delay_ms, 190.0, 1.0);  // the room's and the way to the server's
  ASSERT_TRUE(e.echo_offset(found.delay_ms, offset));
  EXPECT_NEAR(static_cast<double>(offset), static_cast<double>(kPlayedFrom - static_cast<std::int64_t>(kRoom)), 48.0);
}

}  // namespace
}  // namespace ptt::server
