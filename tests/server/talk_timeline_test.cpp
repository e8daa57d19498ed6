// The talk timeline guard, on a scripted clock: what a talk may feed to playback and the recorder is
// bounded by how long the talk has lasted on the server's clock, plus the slack, whatever the
// sender's timestamps say.
#include <gtest/gtest.h>

#include <cstdint>

#include "talk_timeline.hpp"

using namespace ptt::server;
using namespace std::chrono_literals;
using Verdict = TalkTimeline::Verdict;

namespace {

const TimePoint t0 = TimePoint{} + 1000s;  // the grant

// Microseconds after the grant.
TimePoint at(std::chrono::microseconds us) { return t0 + us; }

}  // namespace

// The outside client's talk: 0.11 s, three packets, then packets at 0x7FFFFC40 (12.4 hours on).
TEST(TalkTimeline, AJumpFarAheadOfTheTalksClockIsRefused) {
  TalkTimeline g;
  g.start(7, t0);
  EXPECT_EQ(g.admit(7, 0, 960, at(5ms)), Verdict::accepted);
  EXPECT_EQ(g.admit(7, 960, 960, at(25ms)), Verdict::accepted);
  EXPECT_EQ(g.admit(7, 1920, 960, at(45ms)), Verdict::accepted);
  EXPECT_EQ(g.admit(7, 0x7FFFFC40u, 960, at(65ms)), Verdict::ahead);
  // 0x7FFFFC40 + 960 is 2^31 from the first packet: modulo 2^32 as far behind it as ahead.
  EXPECT_EQ(g.admit(7, 0x7FFFFC40u + 960, 960, at(85ms)), Verdict::before_start);
  EXPECT_EQ(g.admit(7, 0x7FFFFC40u + 1920, 960, at(105ms)), Verdict::before_start);
  g.end(7);
  EXPECT_EQ(g.counts().accepted, 3u);
  EXPECT_EQ(g.counts().outside, 3u);
  EXPECT_EQ(g.counts().refused(), 3u);
}

// The bound, exactly: a packet may end at most min(elapsed, max_talk) * 1.001 + 1 s from the
// talk's first packet.
TEST(TalkTimeline, ThePacketsEndMayLeadTheTalksClockByTheSlackAndNoMore) {
  TalkTimeline g;
  EXPECT_EQ(g.limit(0s), 48000u);
  EXPECT_EQ(g.limit(-5s), 48000u);                       // a reading before the grant counts as none
  EXPECT_EQ(g.limit(10s), 480000u + 480u + 48000u);      // 10 s, 10 ms of drift, 1 s of pre-roll
  EXPECT_EQ(g.limit(120s), 5760000u + 5760u + 48000u);   // max_talk: 121.12 s
  EXPECT_EQ(g.limit(3600s), g.limit(120s));              // and no more, however long the floor is held
  g.start(1, t0);
  ASSERT_EQ(g.admit(1, 0, 960, at(0ms)), Verdict::accepted);
  // 10 s after the grant: a packet ending at 10 s + 10 ms + 1 s is admitted, one sample more is not.
  const std::uint32_t end = 480000 + 480 + 48000;
  EXPECT_EQ(g.admit(1, end - 960 + 1, 960, at(10s)), Verdict::ahead);
  EXPECT_EQ(g.admit(1, end - 960, 960, at(10s)), Verdict::accepted);
}

// What the page sends: a full pre-roll (it keeps the newest second said before the grant) as one
// burst right after the grant, then a packet every 20 ms once its 20 ms and 5 ms of preprocessing
// are captured, for a whole 120 s talk, from a sound card 100 ppm fast, with pauses the VAD left
// out. Every packet is admitted.
TEST(TalkTimeline, AGenuineTalkWithAFullPrerollAndAFastSoundCardIsAdmittedWhole) {
  TalkTimeline g;
  g.start(3, t0);
  const auto rtt = 2ms;  // the grant's way out and the first packet's way back, on a LAN
  std::uint32_t sent = 0;
  for (std::uint32_t i = 0; i < 50; ++i, ++sent)  // the pre-roll: timestamps 0 to 980 ms, at once
    ASSERT_EQ(g.admit(3, i * 960, 960, at(rtt)), Verdict::accepted) << i;
  for (std::uint32_t k = 0; k < 6000 - 50; ++k) {
    if (k % 100 >= 80) continue;  // 400 ms of silence every 2 s: not sent
    // Captured in real time by the student's clock, which runs 100 ppm fast against the server's.
    const auto captured_us = static_cast<std::int64_t>((k + 1) * 20000.0 / 1.0001);
    ASSERT_EQ(g.admit(3, (50 + k) * 960, 960, at(rtt + std::chrono::microseconds(captured_us) + 10ms)), Verdict::accepted)
        << "packet " << k << " of the live talk";
    ++sent;
  }
  EXPECT_EQ(g.counts().accepted, sent);
  EXPECT_EQ(g.counts().refused(), 0u);
}

// Timestamps going backwards from the talk's first packet: a WebSocket delivers in order and the
// page's first packet is its earliest, so anything before it is refused (also just one sample).
TEST(TalkTimeline, TimestampsBeforeTheFirstPacketAreRefused) {
  TalkTimeline g;
  g.start(1, t0);
  EXPECT_EQ(g.admit(1, 48000, 960, at(1ms)), Verdict::accepted);
  EXPECT_EQ(g.admit(1, 48000 - 1, 960, at(2ms)), Verdict::before_start);
  EXPECT_EQ(g.admit(1, 0, 960, at(3ms)), Verdict::before_start);
  EXPECT_EQ(g.admit(1, 48000 - 0x7FFFFFFFu, 960, at(4ms)), Verdict::before_start);
  EXPECT_EQ(g.admit(1, 48960, 960, at(20ms)), Verdict::accepted);
  EXPECT_EQ(g.counts().outside, 3u);
}

// A first packet with a huge timestamp followed by small ones: the first anchors the talk, so the
// small ones lie before it (modulo 2^32, more than half the range back) and are refused. Nothing
// can make the guard admit a timeline longer than the talk either way.
TEST(TalkTimeline, AHugeFirstTimestampAnchorsTheTalkAndSmallOnesAfterItAreRefused) {
  TalkTimeline g;
  g.start(1, t0);
  EXPECT_EQ(g.admit(1, 0x7FFFFC40u, 960, at(1ms)), Verdict::accepted);
  EXPECT_EQ(g.admit(1, 960, 960, at(20ms)), Verdict::before_start);
  EXPECT_EQ(g.admit(1, 1920, 960, at(40ms)), Verdict::before_start);
  EXPECT_EQ(g.admit(1, 0x7FFFFC40u + 960, 960, at(60ms)), Verdict::accepted);
  // 0xFFFFFC40 is 0x80000000 ahead of 0x7FFFFC40: exactly half the range, counted as behind.
  EXPECT_EQ(g.admit(1, 0xFFFFFC40u, 960, at(80ms)), Verdict::before_start);
  EXPECT_EQ(g.counts().accepted, 2u);
  EXPECT_EQ(g.counts().refused(), 3u);
}

// A talk whose timestamps cross 2^32 is one timeline: offsets are taken modulo 2^32.
TEST(TalkTimeline, ATimelineAcrossThe32BitWrapIsOneTimeline) {
  TalkTimeline g;
  g.start(1, t0);
  const std::uint32_t first = 0xFFFFFFFFu - 960 * 5 + 1;  // 5 packets before the wrap
  for (std::uint32_t i = 0; i < 20; ++i)
    EXPECT_EQ(g.admit(1, first + i * 960, 960, at(std::chrono::milliseconds(20 * i))), Verdict::accepted) << i;
  // Jumping back over the wrap, or far ahead across it, is refused like anywhere else.
  EXPECT_EQ(g.admit(1, first - 960, 960, at(400ms)), Verdict::before_start);
  EXPECT_EQ(g.admit(1, first + 0x40000000u, 960, at(420ms)), Verdict::ahead);
  EXPECT_EQ(g.counts().accepted, 20u);
}

// Jumping ahead again and again (each jump would be a new gap to fill): every one is refused, and
// the genuine packets in between still pass.
TEST(TalkTimeline, RepeatedJumpsAreEachRefused) {
  TalkTimeline g;
  g.start(1, t0);
  std::uint32_t genuine = 0;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const auto when = at(std::chrono::milliseconds(20 * i));
    if (i % 2) {
      EXPECT_EQ(g.admit(1, i * 960 + 3'000'000u * (i % 7 + 1), 960, when), Verdict::ahead) << i;
    } else {
      EXPECT_EQ(g.admit(1, i * 960, 960, when), Verdict::accepted) << i;
      ++genuine;
    }
  }
  EXPECT_EQ(g.counts().accepted, genuine);
  EXPECT_EQ(g.counts().outside, 1000u - genuine);
}

// 50,000 valid frames in one second, timestamps stepping 20 ms each (1,000 s of talk): the
// timestamps run a thousand times faster than the clock, so only the first second's worth (the
// slack) gets through, and the timeline ends within the elapsed second plus the slack.
TEST(TalkTimeline, AFloodIsCutOffAtTheTalksElapsedTimePlusTheSlack) {
  TalkTimeline g;
  g.start(1, t0);
  std::uint64_t last_end = 0;
  for (std::uint32_t i = 0; i < 50000; ++i)
    if (g.admit(1, i * 960, 960, at(std::chrono::microseconds(20 * i))) == Verdict::accepted) last_end = (i + 1) * 960ull;
  EXPECT_LE(last_end, g.limit(1s));
  EXPECT_EQ(last_end, 48000u);
  EXPECT_EQ(g.counts().accepted, 50u);
  EXPECT_EQ(g.counts().outside, 49950u);
}

// The same flood repeating the same few timestamps (or overlapping them) keeps within the
// timeline, but not within the talk's audio budget: past the elapsed time plus slack of audio, the
// rest is refused, so neither the recorder's queue nor the playback queue sees tens of thousands.
TEST(TalkTimeline, AFloodOfRepeatedTimestampsIsCutOffByTheAudioBudget) {
  TalkTimeline g;
  g.start(1, t0);
  for (std::uint32_t i = 0; i < 50000; ++i) g.admit(1, (i % 10) * 960 + (i / 10) % 960, 960, at(std::chrono::microseconds(20 * i)));
  EXPECT_EQ(g.counts().accepted, 100u);  // 2.001 s of audio in all
  EXPECT_EQ(g.counts().over_budget, 49900u);
}

// Held for longer than max_talk (the floor's revocation late, or missing): the timeline stops at
// max_talk plus the slack all the same.
TEST(TalkTimeline, NoTalksTimelineRunsPastMaxTalkPlusTheSlack) {
  TalkTimelineConfig config;
  config.max_talk = 2s;
  TalkTimeline g(config);
  g.start(1, t0);
  std::uint64_t last_end = 0;
  for (std::uint32_t i = 0; i < 500; ++i)  // 10 s in real time
    if (g.admit(1, i * 960, 960, at(std::chrono::milliseconds(20 * i))) == Verdict::accepted) last_end = (i + 1) * 960ull;
  EXPECT_EQ(last_end, 150u * 960);  // 3.000 s of the 3.002 s allowed
  EXPECT_EQ(g.counts().outside, 350u);
}

// Each talk is anchored and timed afresh; packets of no talk or of another are not this talk's.
TEST(TalkTimeline, EachTalkStartsAfresh) {
  TalkTimeline g;
  EXPECT_EQ(g.admit(1, 0, 960, at(0ms)), Verdict::other_talk);
  g.start(1, t0);
  EXPECT_EQ(g.admit(2, 0, 960, at(0ms)), Verdict::other_talk);
  EXPECT_EQ(g.admit(1, 1000 * 960, 960, at(0ms)), Verdict::accepted);  // anchors talk 1
  EXPECT_EQ(g.admit(1, 0, 960, at(10ms)), Verdict::before_start);
  g.end(1);
  EXPECT_EQ(g.admit(1, 1001 * 960, 960, at(20ms)), Verdict::other_talk);  // over
  EXPECT_EQ(g.counts().refused(), 1u);                                   // still readable
  g.start(2, t0 + 60s);
  EXPECT_EQ(g.counts().refused(), 0u);
  EXPECT_EQ(g.admit(2, 0, 960, t0 + 60s), Verdict::accepted);  // a new anchor, a new clock
  EXPECT_EQ(g.admit(2, 48000 * 2, 960, t0 + 60s + 1s), Verdict::ahead);
}
