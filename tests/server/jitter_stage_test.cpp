// The jitter stage fed scripted packet streams: reordering, loss, jitter; checked against the
// clean decode of the same packets.
#include <gtest/gtest.h>
#include <opus.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "jitter_stage.hpp"
#include "ptt/codec.hpp"
#include "ptt/protocol.hpp"
#include "signals.hpp"

using namespace ptt::server;
namespace t = ptt::test;

namespace {

constexpr int kStep = JitterStage::kMaxStep;  // the page's default: 20 ms packets

struct Stream {
  std::vector<AudioPacket> packets;
  std::vector<float> clean;  // every packet decoded in order
};

// The test speech in packets of `step` samples (960: 20 ms, 480: 10 ms).
Stream encode_speech(int step = kStep) {
  Stream s;
  const auto speech = t::speech();
  ptt::codec::Encoder enc(ptt::codec::EncoderConfig{.frame_ms = step / 48});
  ptt::codec::Decoder dec;
  std::vector<float> pcm(static_cast<std::size_t>(step));
  for (std::size_t off = 0, i = 0; off + step <= speech.size(); off += step, ++i) {
    AudioPacket p;
    p.header.talk_id = 1;
    p.header.timestamp = static_cast<std::uint32_t>(i * step);
    p.samples = static_cast<std::uint32_t>(step);
    p.header.sequence = static_cast<std::uint16_t>(i);
    const int n = enc.encode(speech.data() + off, p.opus.data(), p.opus.size());
    EXPECT_GT(n, 0);
    p.size = static_cast<std::uint16_t>(n);
    s.packets.push_back(p);
    EXPECT_EQ(dec.decode(p.opus.data(), p.size, pcm.data(), step), step);
    s.clean.insert(s.clean.end(), pcm.begin(), pcm.end());
  }
  return s;
}

struct Run {
  std::vector<float> out;
  std::vector<std::size_t> starts;  // where each step begins in out
  std::vector<JitterStage::Step::Kind> kinds;
  int accepted = 0;
  long lag = -1;  // output sample index minus timestamp, from the last packet played (after adaptation)
  long first_lag = -1;  // the same, from the first packet played (the talk's start delay)
};

// Delivers each packet at its arrival time (ms); pulls one step every step (20 or 10 ms) of
// simulated time.
Run simulate(JitterStage& stage, const std::vector<AudioPacket>& packets, const std::vector<double>& arrival_ms,
             int extra_steps = 40, int step_samples = kStep) {
  const double step_ms = step_samples / 48.0;
  std::vector<std::size_t> order(packets.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return arrival_ms[a] < arrival_ms[b]; });
  Run r;
  stage.start_talk(1);
  std::vector<float> buf(JitterStage::kMaxStep);
  std::size_t next = 0;
  double last_arrival = 0;
  for (double a : arrival_ms) last_arrival = std::max(last_arrival, a);
  // Time runs in the steps the stage plays: before a talk's first packet, the last talk's (20 ms
  // for a new stage).
  const double end_ms = last_arrival + extra_steps * step_ms;
  for (long played = 0; played / 48.0 < end_ms;) {
    const double now = played / 48.0;
    while (next < order.size() && arrival_ms[order[next]] <= now) {
      if (arrival_ms[order[next]] >= 0) r.accepted += stage.put(packets[order[next]]);
      ++next;
    }
    if (next == order.size() && stage.active()) stage.end_talk(1);
    if (stage.waiting() && stage.step() != step_samples) {
      // Before the talk's first packet the stage's step is the last talk's: silence is taken in
      // this talk's steps, as the playout ring takes it in device buffers.
      stage.wait(step_samples);
      played += step_samples;
      r.starts.push_back(r.out.size());
      r.kinds.push_back(stage.active() ? JitterStage::Step::silence : JitterStage::Step::idle);
      r.out.insert(r.out.end(), static_cast<std::size_t>(step_samples), 0.0f);
      continue;
    }
    const auto step = stage.pull(buf.data());
    if (step.kind == JitterStage::Step::played) {
      EXPECT_EQ(step.samples, step_samples);
      r.lag = played - step.timestamp;
      if (r.first_lag < 0) r.first_lag = r.lag;
    }
    played += step.samples;
    r.starts.push_back(r.out.size());
    r.kinds.push_back(step.kind);
    r.out.insert(r.out.end(), buf.begin(), buf.begin() + step.samples);
  }
  return r;
}

long count(const Run& r, JitterStage::Step::Kind k) { return std::count(r.kinds.begin(), r.kinds.end(), k); }

// From the first packet played on, the output against the clean decode of the same packets: 0
// when every packet played in order, each once, shifted by the buffer's delay.
float max_difference_from_clean(const Run& r, const Stream& s) {
  const auto at = std::find(r.kinds.begin(), r.kinds.end(), JitterStage::Step::played);
  if (at == r.kinds.end()) return 1.0f;
  const std::size_t first = r.starts[static_cast<std::size_t>(at - r.kinds.begin())];
  if (r.out.size() < first + s.clean.size()) return 1.0f;  // too little was played
  float max_diff = 0;
  for (std::size_t i = 0; i < s.clean.size(); ++i) max_diff = std::max(max_diff, std::abs(r.out[first + i] - s.clean[i]));
  return max_diff;
}

}  // namespace

TEST(JitterStage, SilenceWhenIdleAndBeforeTheFirstPacket) {
  JitterStage stage;
  std::vector<float> out(kStep, 1.0f);
  EXPECT_EQ(stage.pull(out.data()).kind, JitterStage::Step::idle);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](float v) { return v == 0.0f; }));
  stage.start_talk(3);
  std::fill(out.begin(), out.end(), 1.0f);
  EXPECT_EQ(stage.pull(out.data()).kind, JitterStage::Step::silence);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](float v) { return v == 0.0f; }));
}

TEST(JitterStage, PacketsOfAnotherTalkOrSpanAreRefused) {
  JitterStage stage;
  AudioPacket p;
  p.header.talk_id = 2;
  p.samples = kStep;
  p.size = 1;
  p.opus[0] = 0x48;
  EXPECT_FALSE(stage.put(p));  // no talk yet
  stage.start_talk(1);
  EXPECT_FALSE(stage.put(p));  // talk 2 is not the current one
  p.header.talk_id = 1;
  p.samples = 1920;  // 40 ms: Opus can, the page never sends it
  EXPECT_FALSE(stage.put(p));
  EXPECT_EQ(stage.stats().wrong_span, 1u);
  p.samples = kStep;
  EXPECT_TRUE(stage.put(p));
  EXPECT_EQ(stage.step(), kStep);
  // The talk's first packet set its step: a 10 ms packet in a 20 ms talk is refused, ...
  p.samples = 480;
  p.header.timestamp = 960;
  EXPECT_FALSE(stage.put(p));
  EXPECT_EQ(stage.stats().wrong_span, 2u);
  // ... and the next talk, of 10 ms packets, refuses a 20 ms one.
  stage.start_talk(2);
  p.header.talk_id = 2;
  p.header.timestamp = 0;
  EXPECT_TRUE(stage.put(p));
  EXPECT_EQ(stage.step(), 480);
  p.samples = kStep;
  p.header.timestamp = 960;
  EXPECT_FALSE(stage.put(p));
  EXPECT_EQ(stage.stats().wrong_span, 3u);
}

// 10 ms packets (the page's low-delay choice) play in 10 ms steps exactly as they were encoded;
// reordered, they play in order; a lost one is recovered from the next one's FEC.
TEST(JitterStage, TenMillisecondPacketsPlayInTenMillisecondSteps) {
  constexpr int kTen = 480;
  const auto s = encode_speech(kTen);
  const auto n = static_cast<long>(s.packets.size());
  {
    std::vector<double> arrival;
    for (std::size_t i = 0; i < s.packets.size(); ++i) arrival.push_back(i * 10.0 + 5.0);
    JitterStage stage;
    testing::internal::CaptureStderr();
    auto r = simulate(stage, s.packets, arrival, 80, kTen);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    EXPECT_EQ(count(r, JitterStage::Step::played), n);
    EXPECT_EQ(count(r, JitterStage::Step::plc), 0);
    EXPECT_EQ(max_difference_from_clean(r, s), 0.0f);
    EXPECT_FALSE(stage.active());
  }
  {
    std::vector<double> arrival;
    for (std::size_t i = 0; i < s.packets.size(); ++i) arrival.push_back(i * 10.0 + 30.0);
    for (std::size_t i = 0; i + 1 < arrival.size(); i += 3) std::swap(arrival[i], arrival[i + 1]);  // pairs swapped
    JitterStage stage;
    auto r = simulate(stage, s.packets, arrival, 80, kTen);
    // Catching the reordering's step up may skip a silent packet (never speech).
    EXPECT_EQ(stage.stats().played + stage.stats().late + stage.stats().skipped_silence, s.packets.size());
    EXPECT_LE(stage.stats().late, 1u);
    EXPECT_LE(stage.stats().skipped_silence, 2u);
    const std::size_t half = s.clean.size() / 2;
    const std::vector<float> clean_tail(s.clean.begin() + static_cast<long>(half), s.clean.end());
    EXPECT_GT(t::correlation(clean_tail, r.out, r.lag + static_cast<long>(half)), 0.98);
  }
  {
    // One packet in the middle of speech never comes; the one after it is a SILK or hybrid packet.
    std::size_t gone = s.packets.size() / 2;
    while (gone + 1 < s.packets.size() && (s.packets[gone + 1].opus[0] >> 3) >= 16) ++gone;
    ASSERT_LT(gone + 1, s.packets.size());
    std::vector<double> arrival;
    for (std::size_t i = 0; i < s.packets.size(); ++i) arrival.push_back(i == gone ? -1 : i * 10.0 + 5.0);
    JitterStage stage(JitterConfig{.margin_ms = 10});  // the next packet is here when the lost one is due
    auto r = simulate(stage, s.packets, arrival, 80, kTen);
    EXPECT_EQ(count(r, JitterStage::Step::played), n - 1);
    EXPECT_EQ(count(r, JitterStage::Step::fec), 1);
    EXPECT_EQ(count(r, JitterStage::Step::plc), 0);
  }
}

// A smooth stream, each packet 2 ms after it is complete: played at the first step after it
// comes, a 10 ms packet waits half as long as a 20 ms one for its step, and is complete 10 ms
// sooner at the sender.
TEST(JitterStage, TenMillisecondPacketsPlaySooner) {
  long lag[2] = {};
  for (int k = 0; k < 2; ++k) {
    const int step = k == 0 ? kStep : 480;
    auto s = encode_speech(step);
    std::vector<double> arrival;
    // Each packet arrives 2 ms after it is complete at the sender.
    for (std::size_t i = 0; i < s.packets.size(); ++i) arrival.push_back((i + 1) * step / 48.0 + 2.0);
    JitterStage stage(JitterConfig{.adaptive_start = false});
    auto r = simulate(stage, s.packets, arrival, 40, step);
    EXPECT_EQ(count(r, JitterStage::Step::played), static_cast<long>(s.packets.size()));
    lag[k] = r.lag;
  }
  std::printf("play position behind the packet's timestamp: %.1f ms with 20 ms packets, %.1f ms with 10 ms\n",
              lag[0] / 48.0, lag[1] / 48.0);
  EXPECT_EQ(lag[0], 2 * kStep);
  EXPECT_EQ(lag[1], 2 * 480);
}

TEST(JitterStage, PacketsOffTheTwentyMillisecondGridAreRefusedQuietly) {
  // A hostile talker sends, beside each genuine packet, a copy that straddles two steps. speexdsp
  // would take those and print "jitter buffer sees negative buffering" for each; they are refused
  // before they reach it, and the genuine stream plays as if they were never sent.
  auto s = encode_speech();
  std::vector<AudioPacket> packets;
  std::vector<double> arrival;
  for (std::size_t i = 0; i < s.packets.size(); ++i) {
    packets.push_back(s.packets[i]);
    arrival.push_back(i * 20.0 + 5.0);
    AudioPacket odd = s.packets[i];
    odd.header.timestamp += i % 2 ? 480 : 42;
    packets.push_back(odd);
    arrival.push_back(i * 20.0 + 6.0);
  }
  JitterStage stage;
  testing::internal::CaptureStderr();
  auto r = simulate(stage, packets, arrival);
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed, "");
  EXPECT_EQ(stage.stats().misaligned, s.packets.size());
  EXPECT_EQ(r.accepted, static_cast<int>(s.packets.size()));
  EXPECT_EQ(count(r, JitterStage::Step::played), static_cast<long>(s.packets.size()));
  EXPECT_EQ(count(r, JitterStage::Step::plc), 0);
  EXPECT_EQ(max_difference_from_clean(r, s), 0.0f);
}

TEST(JitterStage, DelayChangesStayOnThePacketGrid) {
  // speexdsp adapts its delay in steps, and the stage plays whole packets. With steps shorter than the packets (10 ms steps, 20 ms packets) it
  // moved its play position into the middle of a packet, lost count of what was buffered and
  // printed "negative buffering" on stderr, in 17 of the 40 jittery talks below; a packet more
  // than 680 ms late overflowed its 16-bit delay arithmetic the same way. Every packet must be
  // played or counted (skipped as silence, late, over the delay budget), silently.
  // The same for talks of 10 ms packets in 10 ms steps.
  for (int seed = 0; seed < 80; ++seed) {
    SCOPED_TRACE(seed);
    const int step = seed < 40 ? kStep : 480;
    const double step_ms = step / 48.0;
    static const Stream twenty = encode_speech(kStep), ten = encode_speech(480);
    const Stream& s = seed < 40 ? twenty : ten;
    std::mt19937 rng(static_cast<unsigned>(seed));
    const int margin = std::uniform_int_distribution<int>(0, 4)(rng) * 5;
    std::vector<double> arrival;
    for (std::size_t i = 0; i < s.packets.size(); ++i) {
      double a = i * step_ms + 5.0;
      switch (seed % 4) {
        case 0: a += std::uniform_real_distribution<double>(0, 60)(rng); break;  // uniform jitter
        case 1:  // now and then a packet very late
          if (std::uniform_int_distribution<int>(0, 30)(rng) == 0) a += std::uniform_real_distribution<double>(200, 1500)(rng);
          break;
        case 2: a += std::exponential_distribution<double>(1.0 / 30)(rng); break;  // long-tailed jitter
        default: {  // Wi-Fi stalls: 200 ms held up, then a burst
          const std::size_t per_second = static_cast<std::size_t>(1000 / step_ms), held = per_second / 5;
          if (i % per_second < held)
            a = static_cast<double>(i / per_second * per_second + held) * step_ms + std::uniform_real_distribution<double>(0, 300)(rng);
        }
      }
      arrival.push_back(a);
    }
    JitterStage stage(JitterConfig{.margin_ms = margin});
    testing::internal::CaptureStderr();
    auto r = simulate(stage, s.packets, arrival, 40, step);
    std::vector<float> buf(JitterStage::kMaxStep);
    for (int i = 0; i < 200 && stage.active(); ++i) r.kinds.push_back(stage.pull(buf.data()).kind);  // drain
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    const auto& st = stage.stats();
    EXPECT_EQ(st.played + st.skipped_silence + st.late + st.discarded + st.pool_full + st.stale + st.over_budget,
              s.packets.size());
  }
}

TEST(JitterStage, AfterADeviceStallTheTalkCatchesUpWithTheStream) {
  // The audio callback stops for 3 s mid-talk; the packets of those 3 s wait in the hand-off queue
  // and arrive together when it comes back. The talk must catch up with the live stream (what
  // waited is stale) rather than play 3 s behind for the rest of the talk.
  auto s = encode_speech();
  JitterStage stage;
  stage.start_talk(1);
  std::vector<float> buf(kStep);
  std::size_t next = 0;
  long lag_after = -1;
  for (int step = 0; step < 300; ++step) {
    const bool stalled = step >= 60 && step < 210;
    if (stalled) continue;  // no callback: packets wait in the queue
    for (; next < s.packets.size() && next <= static_cast<std::size_t>(step); ++next) stage.put(s.packets[next]);
    const auto played = stage.pull(buf.data());
    if (played.kind == JitterStage::Step::played && step > 240) lag_after = static_cast<long>(step) * kStep - played.timestamp;
  }
  std::printf("lag 30 steps after the stall: %.0f ms, resyncs %llu\n", lag_after / 48.0,
              static_cast<unsigned long long>(stage.stats().resyncs));
  ASSERT_GE(lag_after, 0);
  EXPECT_LT(lag_after, 200 * 48);  // within the usual delay, not 3 s behind
}

TEST(JitterStage, TimestampsFarFromThePlayPositionCannotConfuseTheBuffer) {
  // Between a talker's genuine packets, copies far ahead and far behind (320 ms to 5 hours): speexdsp's 16-bit timings overflowed on such spreads and it printed "negative
  // buffering" from then on. Each is refused and counted (a single packet far ahead does not
  // start the stream over); nothing is printed, and the genuine packets play.
  auto s = encode_speech();
  constexpr std::uint32_t base = 1'000'000 * kStep;  // room below for far-behind copies on the grid
  for (auto& p : s.packets) p.header.timestamp += base;
  std::mt19937 rng(7);
  std::vector<AudioPacket> packets;
  std::vector<double> arrival;
  for (std::size_t i = 0; i < s.packets.size(); ++i) {
    packets.push_back(s.packets[i]);
    arrival.push_back(i * 20.0 + 5.0);
    if (i % 25 == 10) {
      AudioPacket odd = s.packets[i];
      const auto jump = std::uniform_int_distribution<std::uint32_t>(16, 900'000)(rng) * kStep;
      odd.header.timestamp = i % 2 ? odd.header.timestamp + jump : odd.header.timestamp - jump;
      packets.push_back(odd);
      arrival.push_back(i * 20.0 + 6.0);
    }
  }
  JitterStage stage(JitterConfig{.margin_ms = 20});
  testing::internal::CaptureStderr();
  auto r = simulate(stage, packets, arrival);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(stage.stats().stale + stage.stats().late, static_cast<std::uint64_t>(packets.size() - s.packets.size()));
  EXPECT_EQ(stage.stats().resyncs, 0u);
  EXPECT_EQ(count(r, JitterStage::Step::played), static_cast<long>(s.packets.size()));
}

TEST(JitterStage, PacketsAcrossTheTimestampWrapOrRepeatedAreRefusedQuietly) {
  // fuzz_opus_path's reproducer: a talk starting just below the 32-bit wrap, then packets on the
  // grid of 0 after it. 2^32 is no multiple of 960, so those straddle the talk's own grid and
  // speexdsp printed "negative buffering". And a packet for a time already held is refused.
  auto s = encode_speech();
  JitterStage stage;
  stage.start_talk(1);
  std::vector<float> buf(kStep);
  testing::internal::CaptureStderr();
  AudioPacket p = s.packets[0];
  p.header.timestamp = 4'294'962'240u;  // 4,473,919 x 960: on the grid of 0, 5,056 samples below the wrap
  EXPECT_TRUE(stage.put(p));
  AudioPacket twice = p;
  EXPECT_FALSE(stage.put(twice));
  EXPECT_EQ(stage.stats().duplicate, 1u);
  for (std::uint32_t ts : {2880u, 0u, 960u}) {
    AudioPacket after = s.packets[1];
    after.header.timestamp = ts;
    EXPECT_FALSE(stage.put(after)) << ts;
    for (int i = 0; i < 3; ++i) stage.pull(buf.data());
  }
  stage.end_talk(1);
  for (int i = 0; i < 40 && stage.active(); ++i) stage.pull(buf.data());
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(stage.stats().misaligned, 3u);
  EXPECT_EQ(stage.stats().played, 1u);
  EXPECT_FALSE(stage.active());
}

TEST(JitterStage, SteadyStreamIsPlayedBitExactlyAndDrainsToIdle) {
  auto s = encode_speech();
  std::vector<double> arrival;
  for (std::size_t i = 0; i < s.packets.size(); ++i) arrival.push_back(i * 20.0 + 5.0);
  JitterStage stage;
  auto r = simulate(stage, s.packets, arrival);
  EXPECT_EQ(count(r, JitterStage::Step::played), static_cast<long>(s.packets.size()));
  EXPECT_EQ(count(r, JitterStage::Step::plc), 0);
  EXPECT_FALSE(stage.active());  // drained, then idle
  EXPECT_EQ(r.kinds.back(), JitterStage::Step::idle);
  // The same decoder fed the same packets: identical samples, shifted by the buffer's delay.
  EXPECT_EQ(max_difference_from_clean(r, s), 0.0f);
}

TEST(JitterStage, ReorderedPacketsArePlayedInOrder) {
  auto s = encode_speech();
  std::vector<double> arrival;
  for (std::size_t i = 0; i < s.packets.size(); ++i) arrival.push_back(i * 20.0 + 30.0);
  for (std::size_t i = 0; i + 1 < arrival.size(); i += 3) std::swap(arrival[i], arrival[i + 1]);  // pairs swapped
  JitterStage stage;
  auto r = simulate(stage, s.packets, arrival);
  // The buffer starts with no delay and learns the reordering from the first late packets; those
  // play after the concealment of their time (nothing after them had played), so every packet
  // plays, and the talk catches the step up.
  EXPECT_EQ(stage.stats().played + stage.stats().late, s.packets.size());
  EXPECT_LE(stage.stats().late, 1u);  // the talk's first packet, overtaken by the second, which started it
  EXPECT_GT(stage.stats().late_played, 0u);
  // From the second half on the delay has settled: the output is the clean decode, shifted.
  const std::size_t half = s.clean.size() / 2;
  const std::vector<float> clean_tail(s.clean.begin() + static_cast<long>(half), s.clean.end());
  EXPECT_GT(t::correlation(clean_tail, r.out, r.lag + static_cast<long>(half)), 0.98);
}

TEST(JitterStage, LostPacketIsRecoveredFromTheNextPacketsFec) {
  // FEC needs the next packet to be buffered when the lost one is due: a margin of one packet.
  auto s = encode_speech();
  std::vector<double> arrival;
  for (std::size_t i = 0; i < s.packets.size(); ++i) arrival.push_back(i * 20.0 + 5.0);
  arrival[40] = -1;  // lost
  arrival[90] = -1;
  JitterConfig config;
  config.margin_ms = 20;
  JitterStage stage(config);
  auto r = simulate(stage, s.packets, arrival);
  EXPECT_EQ(stage.stats().fec, 2u);
  EXPECT_EQ(count(r, JitterStage::Step::played), static_cast<long>(s.packets.size()) - 2);
}

namespace {
// 100 packets of speech from libopus itself: the VOIP application (in-band FEC on) makes SILK or
// hybrid packets, RESTRICTED_LOWDELAY makes CELT-only ones.
std::vector<AudioPacket> encode_as(int application) {
  const auto speech = t::speech();
  int error = 0;
  OpusEncoder* enc = opus_encoder_create(48000, 1, application, &error);
  EXPECT_EQ(error, OPUS_OK);
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(24000));
  opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
  opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(10));
  std::vector<AudioPacket> out;
  for (std::size_t off = 0, i = 0; off + kStep <= speech.size() && i < 100; off += kStep, ++i) {
    AudioPacket p;
    p.header.talk_id = 1;
    p.header.timestamp = static_cast<std::uint32_t>(i * kStep);
    p.header.sequence = static_cast<std::uint16_t>(i);
    p.samples = kStep;
    const int n = opus_encode_float(enc, speech.data() + off, kStep, p.opus.data(), static_cast<opus_int32>(p.opus.size()));
    EXPECT_GT(n, 0);
    p.size = static_cast<std::uint16_t>(n);
    out.push_back(p);
  }
  opus_encoder_destroy(enc);
  return out;
}

int toc_config(const AudioPacket& p) { return p.opus[0] >> 3; }
}  // namespace

// Opus carries in-band FEC in SILK frames only: SILK-only and hybrid packets (TOC configurations 0
// to 15). A lost packet is counted as recovered by FEC only when the packet after it is one of
// those; after a CELT-only packet (16 to 31) libopus can only conceal, and it is counted as PLC.
TEST(JitterStage, ALostPacketCountsAsFecOnlyWhenTheNextPacketCanCarryFec) {
  for (const bool celt : {false, true}) {
    SCOPED_TRACE(celt ? "followed by a CELT-only packet" : "followed by a SILK or hybrid packet");
    const auto packets = encode_as(celt ? OPUS_APPLICATION_RESTRICTED_LOWDELAY : OPUS_APPLICATION_VOIP);
    ASSERT_EQ(packets.size(), 100u);
    if (celt) EXPECT_GE(toc_config(packets[41]), 16);
    else EXPECT_LT(toc_config(packets[41]), 16);
    std::vector<double> arrival;
    for (std::size_t i = 0; i < packets.size(); ++i) arrival.push_back(i * 20.0 + 5.0);
    arrival[40] = -1;  // lost; with a margin of one packet, 41 is here when 40 is due
    JitterConfig config;
    config.margin_ms = 20;
    JitterStage stage(config);
    const auto r = simulate(stage, packets, arrival);
    EXPECT_EQ(stage.stats().fec, celt ? 0u : 1u);
    EXPECT_EQ(stage.stats().plc, celt ? 1u : 0u);
    EXPECT_EQ(count(r, JitterStage::Step::fec), celt ? 0 : 1);
    EXPECT_EQ(count(r, JitterStage::Step::plc), celt ? 1 : 0);
    EXPECT_EQ(count(r, JitterStage::Step::played), 99);
  }
}

// The acceptance scenario: reordering, 5 % loss and up to 60 ms of jitter.
TEST(JitterStage, JitterLossAndReorderingArePlayedOrConcealed) {
  auto s = encode_speech();
  std::mt19937 rng(2026);
  std::uniform_real_distribution<double> jitter(0.0, 60.0);
  std::bernoulli_distribution lost(0.05);
  std::vector<double> arrival;
  std::size_t received = 0;
  for (std::size_t i = 0; i < s.packets.size(); ++i) {
    const bool l = lost(rng);
    arrival.push_back(l ? -1 : i * 20.0 + 5.0 + jitter(rng));
    received += !l;
  }
  JitterStage stage;
  auto r = simulate(stage, s.packets, arrival);
  const auto& st = stage.stats();
  const long played = count(r, JitterStage::Step::played);
  RecordProperty("played", std::to_string(played));
  RecordProperty("late", std::to_string(st.late));
  RecordProperty("fec", std::to_string(st.fec));
  RecordProperty("plc", std::to_string(st.plc));
  // Every packet that arrived in time was played; the rest of the timeline was concealed.
  EXPECT_EQ(static_cast<std::size_t>(played) + st.late, received);
  EXPECT_LE(st.late, received / 50) << "more than 2 % arrived after their play time";
  EXPECT_EQ(st.pool_full, 0u);
  // The output still sounds like the clean decode.
  const double c = t::correlation(s.clean, r.out, r.lag);
  RecordProperty("correlation", std::to_string(c));
  EXPECT_GT(c, 0.8);
}

TEST(JitterStage, APacketPastItsPlayTimeIsDroppedAsLate) {
  auto s = encode_speech();
  JitterStage stage;
  stage.start_talk(1);
  std::vector<float> out(kStep);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(stage.put(s.packets[i]));
  for (int i = 0; i < 12; ++i) stage.pull(out.data());
  EXPECT_FALSE(stage.put(s.packets[3]));  // played long ago
  EXPECT_EQ(stage.stats().late, 1u);
}

namespace {
// Stamps each packet with its arrival time (on a clock that starts far from zero), as the network side does.
std::vector<AudioPacket> arriving(std::vector<AudioPacket> packets, const std::vector<double>& arrival_ms) {
  for (std::size_t i = 0; i < packets.size(); ++i)
    packets[i].arrival = arrival_ms[i] < 0 ? TimePoint{}
                                           : TimePoint{} + std::chrono::seconds(7000) + std::chrono::microseconds(static_cast<std::int64_t>(arrival_ms[i] * 1000));
  return packets;
}

// Steps of the 60 ms after the first packet played that were concealed rather than played.
long concealed_after_start(const Run& r) {
  const auto first = std::find(r.kinds.begin(), r.kinds.end(), JitterStage::Step::played);
  return std::count_if(first + 1, first + 4, [](auto k) { return k != JitterStage::Step::played; });
}
}  // namespace

// After a jittery talk the next one starts with a delay near the measured spread, so it needs
// fewer late drops and no concealment as it starts; steady talks bring the delay back down; it
// never exceeds its bound.
TEST(JitterStage, StartDelayIsLearnedFromTheJitterOfEarlierTalks) {
  auto s = encode_speech();
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> jitter(0.0, 60.0);
  std::vector<double> jittery, steady;
  for (std::size_t i = 0; i < s.packets.size(); ++i) {
    jittery.push_back(i * 20.0 + 5.0 + jitter(rng));
    steady.push_back(i * 20.0 + 5.0);
  }
  JitterStage stage;
  EXPECT_EQ(stage.start_delay_ms(), 0);
  const auto r1 = simulate(stage, arriving(s.packets, jittery), jittery);
  const auto late_first = stage.stats().late;
  const int learned = stage.start_delay_ms();
  EXPECT_GE(learned, 40) << "60 ms of uniform jitter was measured";
  EXPECT_LE(learned, 80);
  const auto r = simulate(stage, arriving(s.packets, jittery), jittery);
  const auto late_second = stage.stats().late - late_first;
  RecordProperty("learned_start_delay_ms", std::to_string(learned));
  RecordProperty("late_first_talk", std::to_string(late_first));
  RecordProperty("late_second_talk", std::to_string(late_second));
  RecordProperty("plc_first_talk", std::to_string(count(r1, JitterStage::Step::plc)));
  RecordProperty("plc_second_talk", std::to_string(count(r, JitterStage::Step::plc)));
  EXPECT_LT(late_second, late_first) << "the second talk started with the learned delay";
  // Without it the buffer grows its delay by concealing right after the first word starts.
  EXPECT_GT(concealed_after_start(r1), 0);
  EXPECT_EQ(concealed_after_start(r), 0);
  EXPECT_GT(t::correlation(s.clean, r.out, r.lag), 0.8);
  for (int i = 0; i < 4; ++i) simulate(stage, arriving(s.packets, steady), steady);
  EXPECT_LT(stage.start_delay_ms(), learned / 4) << "steady talks let the delay fall back";

  // The bound holds however wild the jitter.
  std::uniform_real_distribution<double> wild(0.0, 400.0);
  std::vector<double> stormy;
  for (std::size_t i = 0; i < s.packets.size(); ++i) stormy.push_back(i * 20.0 + wild(rng));
  for (int i = 0; i < 3; ++i) simulate(stage, arriving(s.packets, stormy), stormy);
  EXPECT_EQ(stage.start_delay_ms(), 80);

  JitterConfig fixed;
  fixed.adaptive_start = false;
  JitterStage fixed_stage(fixed);
  simulate(fixed_stage, arriving(s.packets, jittery), jittery);
  EXPECT_EQ(fixed_stage.start_delay_ms(), 0);
}

namespace {

// What the sender's VAD would say: packets with audible content are speech.
void mark_speech(Stream& s) {
  for (std::size_t i = 0; i < s.packets.size(); ++i) {
    double sum = 0;
    for (int k = 0; k < kStep; ++k) sum += s.clean[i * kStep + k] * s.clean[i * kStep + k];
    if (sum / kStep > 1e-4) s.packets[i].header.flags |= ptt::protocol::audio_flags::kSpeech;
  }
}

struct Stall {
  double at_ms, length_ms;
};

// Stalls of `length_ms` covering about `duty` of the time, at random (seeded) moments.
std::vector<Stall> stalls(unsigned seed, double duty, double length_ms, double until_ms) {
  std::mt19937 rng(seed);
  std::exponential_distribution<double> gap(duty / (length_ms * (1 - duty)));
  std::vector<Stall> out;
  for (double t = gap(rng); t < until_ms; t += length_ms + gap(rng)) out.push_back({t, length_ms});
  return out;
}

double after_stalls(double t, const std::vector<Stall>& list) {
  for (const auto& s : list)
    if (t >= s.at_ms && t < s.at_ms + s.length_ms) return s.at_ms + s.length_ms;
  return t;
}

struct StallRun {
  long played_steps = 0;
  std::vector<long> lags;  // per played step: output position minus timestamp, in samples
  bool in_order = true;    // each played step's first sample later than the last one's
  std::uint32_t last_timestamp = 0;
};

// The sender (the browser) captures a packet every 20 ms; while it is stalled, what it captured
// leaves together when the stall ends. The server's audio callback pulls a step every 20 ms;
// while the server is stalled it pulls nothing, and the device plays on from where it was.
StallRun simulate_stalls(JitterStage& stage, const std::vector<AudioPacket>& packets, const std::vector<Stall>& browser,
                         const std::vector<Stall>& server) {
  std::vector<double> arrival;
  for (std::size_t i = 0; i < packets.size(); ++i) arrival.push_back(after_stalls(i * 20.0 + 25.0, browser) + 2.0);
  StallRun r;
  stage.start_talk(1);
  std::vector<float> buf(kStep);
  std::size_t next = 0;
  double now = 0;
  for (long step = 0; step < static_cast<long>(packets.size()) + 400 && stage.active(); ++step) {
    now = after_stalls(now + 20.0, server);
    for (; next < packets.size() && arrival[next] <= now; ++next) stage.put(packets[next]);
    if (next == packets.size()) stage.end_talk(1);
    const auto s = stage.pull(buf.data());
    if (s.kind == JitterStage::Step::played) {
      if (!r.lags.empty() && static_cast<std::int32_t>(s.timestamp - r.last_timestamp) <= 0) r.in_order = false;
      r.last_timestamp = s.timestamp;
      ++r.played_steps;
      r.lags.push_back(static_cast<long>(now * 48) - static_cast<long>(s.timestamp));
    }
  }
  return r;
}

}  // namespace

TEST(JitterStage, StallsOfBrowserAndServerLoseNoSpeech) {
  // 50 ms stalls, 20 % of the time, of the sender and of the server both: packets come late and
  // in bunches, and the audio callback skips beats (the server plays only 80 % of the time). Every
  // packet of a talker who never pauses is played, in order, caught up by time compression.
  auto s = encode_speech();
  for (auto& p : s.packets) p.header.flags |= ptt::protocol::audio_flags::kSpeech;
  const double talk_ms = s.packets.size() * 20.0;
  for (unsigned seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE(seed);
    JitterStage stage(JitterConfig{.margin_ms = 20});
    testing::internal::CaptureStderr();
    const auto r = simulate_stalls(stage, s.packets, stalls(seed, 0.2, 50, talk_ms), stalls(seed + 100, 0.2, 50, talk_ms));
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    const auto& st = stage.stats();
    EXPECT_EQ(st.played, s.packets.size());
    EXPECT_EQ(st.late + st.discarded + st.over_budget + st.stale + st.pool_full + st.skipped_silence, 0u);
    EXPECT_GT(st.late_played + st.compressed_samples, 0u) << "the stalls did make packets late";
    ASSERT_FALSE(r.lags.empty());
    EXPECT_TRUE(r.in_order);
    const long worst = *std::max_element(r.lags.begin(), r.lags.end());
    std::printf("seed %u: %llu packets, %llu late but played, %.0f ms compressed, %llu concealed, lag at the end %.0f ms (worst %.0f); "
                "dropped: late %llu, discarded %llu, over budget %llu, stale %llu, pool full %llu\n",
                seed, static_cast<unsigned long long>(st.played), static_cast<unsigned long long>(st.late_played),
                st.compressed_samples / 48.0, static_cast<unsigned long long>(st.plc), r.lags.back() / 48.0, worst / 48.0,
                static_cast<unsigned long long>(st.late), static_cast<unsigned long long>(st.discarded),
                static_cast<unsigned long long>(st.over_budget), static_cast<unsigned long long>(st.stale),
                static_cast<unsigned long long>(st.pool_full));
    // Behind by what speexdsp's delay and the catch-up need, but with room left in the delay budget
    // for the next stall and a step: it does not drift towards dropping.
    EXPECT_LT(r.lags.back(), (JitterStage::kBudgetMs - 50 - 20) * 48) << "the talk kept up";
  }
}

TEST(JitterStage, CatchingUpSkipsSilenceFirstAndNeverSpeech) {
  // The same stalls with a talker who pauses between words (the sender's VAD marks speech): the
  // talk catches up in the pauses; every packet marked speech is played.
  auto s = encode_speech();
  mark_speech(s);
  std::size_t speech = 0;
  for (const auto& p : s.packets) speech += (p.header.flags & ptt::protocol::audio_flags::kSpeech) != 0;
  ASSERT_GT(speech, s.packets.size() / 3);
  ASSERT_LT(speech, s.packets.size());
  const double talk_ms = s.packets.size() * 20.0;
  std::uint64_t skipped = 0;
  for (unsigned seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE(seed);
    JitterStage stage(JitterConfig{.margin_ms = 20});
    simulate_stalls(stage, s.packets, stalls(seed, 0.2, 50, talk_ms), stalls(seed + 100, 0.2, 50, talk_ms));
    const auto& st = stage.stats();
    EXPECT_EQ(st.late + st.discarded + st.over_budget + st.stale + st.pool_full, 0u);
    EXPECT_EQ(st.played + st.skipped_silence, s.packets.size());
    EXPECT_LE(st.skipped_silence, s.packets.size() - speech);
    skipped += st.skipped_silence;
  }
  EXPECT_GT(skipped, 0u) << "silence went first";
}

// A browser sends what each audio callback made at once: 10 ms packets leave in bursts every
// 26.7 ms (25 ms buffers), so a packet's transit depends on where in its burst it falls. A talk
// whose first packet happened to wait almost a whole callback must not play that much later than
// one whose first packet left at once: the hold counts from the earliest packet's transit.
TEST(JitterStage, ATalkWhoseFirstPacketCameLateInItsBurstStartsNoLater) {
  constexpr int kTen = 480;
  auto s = encode_speech(kTen);
  const double callback_ms = 1280 / 48.0;
  // Arrival of each packet: 1 ms after the first callback at or after its last sample.
  auto bursts = [&](double phase_ms) {
    std::vector<double> arrival;
    for (std::size_t i = 0; i < s.packets.size(); ++i) {
      const double complete = (i + 1) * 10.0;
      arrival.push_back(std::ceil((complete - phase_ms) / callback_ms) * callback_ms + phase_ms + 1.0);
    }
    return arrival;
  };
  // Phase 10.5 ms: packet 0 completes at 10 ms and leaves at once (arrives at 11.5 ms); phase
  // 9.5 ms: it just missed a callback and leaves 26.7 ms later.
  long lag[2] = {};
  long played[2] = {};
  int start_delay = 0;
  for (int k = 0; k < 2; ++k) {
    JitterStage stage;
    const auto train = bursts(3.0);
    simulate(stage, arriving(s.packets, train), train, 40, kTen);  // learns the bursts' spread
    start_delay = stage.start_delay_ms();
    const auto arrival = bursts(k == 0 ? 10.5 : 9.5);
    ASSERT_NEAR(arrival[0], k == 0 ? 11.5 : 9.5 + callback_ms + 1.0, 0.01);
    const auto r = simulate(stage, arriving(s.packets, arrival), arrival, 40, kTen);
    lag[k] = r.first_lag;
    played[k] = count(r, JitterStage::Step::played);
  }
  std::printf("learned start delay %d ms; the talk starts %.1f ms behind its timestamps (first packet on time), "
              "%.1f ms (first packet late in its burst)\n", start_delay, lag[0] / 48.0, lag[1] / 48.0);
  EXPECT_GE(start_delay, 20) << "the bursts' spread was learned";
  EXPECT_EQ(played[0], static_cast<long>(s.packets.size()));
  EXPECT_EQ(played[1], static_cast<long>(s.packets.size()));
  // Within one 10 ms step: the talk's delay is set by its earliest packets, not its first.
  EXPECT_LE(std::abs(lag[1] - lag[0]), kTen);
}
