// The student's capture pipeline: pre-roll from press to grant, silence not sent, valid framing.
#include <gtest/gtest.h>

#include <vector>

#include "ptt/capture_pipeline.hpp"
#include "signals.hpp"

using ptt::CaptureConfig;
using ptt::CapturePipeline;
namespace proto = ptt::protocol;
namespace t = ptt::test;
namespace af = ptt::audio_format;

namespace {

// Feeds x in 128-sample quanta as the AudioWorklet does, with capture times from start_us.
void feed(CapturePipeline& p, const std::vector<float>& x, std::uint64_t start_us = 1'000'000'000) {
  for (std::size_t off = 0; off + 128 <= x.size(); off += 128) p.push(x.data() + off, 128, start_us + af::samples_to_us(off));
}

std::vector<proto::AudioFrameView> frames(const CapturePipeline& p, std::vector<std::vector<std::uint8_t>>& storage) {
  std::vector<proto::AudioFrameView> out;
  for (std::size_t i = 0; i < p.ready_count(); ++i) storage.emplace_back(p.ready_data(i), p.ready_data(i) + p.ready_size(i));
  for (const auto& s : storage) {
    proto::AudioFrameView v;
    EXPECT_EQ(proto::decode_audio_frame(s.data(), s.size(), v), proto::ErrorCode::ok);
    out.push_back(v);
  }
  return out;
}

std::vector<float> loud_speech() {
  auto s = t::speech();
  return t::padded(s, 0, 0);
}

}  // namespace

TEST(CapturePipeline, IdleSendsNothingButMetersAndDetects) {
  CapturePipeline p;
  ASSERT_TRUE(p.ok());
  feed(p, t::padded(t::speech(), 24000, 0));
  EXPECT_EQ(p.ready_count(), 0u);
  EXPECT_GT(p.level(), 0.0f);
  EXPECT_EQ(p.state(), CapturePipeline::State::idle);
}

TEST(CapturePipeline, PrerollFromPressIsSentOnGrantFirst) {
  CapturePipeline p;
  const auto speech = loud_speech();
  p.press();
  std::vector<float> first(speech.begin(), speech.begin() + af::kSampleRate / 2);  // 0.5 s before the grant
  feed(p, first);
  EXPECT_EQ(p.ready_count(), 0u);
  p.grant(7);
  std::vector<std::vector<std::uint8_t>> storage;
  auto f = frames(p, storage);
  ASSERT_GE(f.size(), 20u);
  EXPECT_TRUE(f[0].header.flags & proto::audio_flags::kTalkStart);
  for (std::size_t i = 0; i < f.size(); ++i) {
    EXPECT_EQ(f[i].header.talk_id, 7u);
    EXPECT_EQ(f[i].header.sequence, i);
    EXPECT_EQ(f[i].samples, std::uint32_t{af::kFrameSamples});
    if (i) { EXPECT_GT(f[i].header.timestamp, f[i - 1].header.timestamp); }
    if (i) { EXPECT_FALSE(f[i].header.flags & proto::audio_flags::kTalkStart); }
  }
  EXPECT_EQ(f[0].header.timestamp, 0u);
  p.clear_ready();
  // After the grant, packets flow directly and continue the timeline.
  std::vector<float> rest(speech.begin() + af::kSampleRate / 2, speech.begin() + af::kSampleRate);
  feed(p, rest, 1'000'000'000 + 500'000);
  std::vector<std::vector<std::uint8_t>> storage2;
  auto g = frames(p, storage2);
  ASSERT_FALSE(g.empty());
  EXPECT_GT(g.front().header.timestamp, f.back().header.timestamp);
  EXPECT_EQ(g.front().header.sequence, f.size());
}

TEST(CapturePipeline, DenialDropsThePreroll) {
  CapturePipeline p;
  p.press();
  feed(p, loud_speech());
  p.cancel();
  EXPECT_EQ(p.state(), CapturePipeline::State::idle);
  p.grant(3);  // a late grant after cancel does nothing
  EXPECT_EQ(p.ready_count(), 0u);
}

TEST(CapturePipeline, PrerollIsBoundedToTheNewestSecond) {
  CaptureConfig c;
  c.send_silence = true;
  CapturePipeline p(c);
  p.press();
  auto x = t::vowel(140, 0.3f, af::kSampleRate * 3);
  feed(p, x);
  p.grant(1);
  EXPECT_EQ(p.ready_count(), 50u);
  EXPECT_GE(p.packets_dropped(), 98u);
}

// 10 ms packets: half the samples each, timestamps and capture times a sub-frame apart, and the
// whole 1 s pre-roll (100 packets) handed over at the grant.
TEST(CapturePipeline, TenMillisecondFramesAreFramedAsConfigured) {
  CaptureConfig c;
  c.encoder.frame_ms = 10;
  c.send_silence = true;
  CapturePipeline p(c);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.frame_samples(), af::kSubframeSamples);
  const std::uint64_t start = 5'000'000'000ull;
  p.press();
  feed(p, t::vowel(140, 0.3f, af::kSampleRate * 2), start);
  p.grant(4);
  std::vector<std::vector<std::uint8_t>> storage;
  auto f = frames(p, storage);
  ASSERT_EQ(f.size(), 100u);
  EXPECT_EQ(p.packets_dropped(), 100u);  // the older second of the two
  for (std::size_t k = 0; k < f.size(); ++k) {
    EXPECT_EQ(f[k].samples, std::uint32_t{af::kSubframeSamples}) << k;
    EXPECT_EQ(f[k].header.sequence, k);
    EXPECT_EQ(f[k].header.timestamp, k * af::kSubframeSamples) << k;
    if (k > 0) { EXPECT_EQ(f[k].header.capture_time_us - f[k - 1].header.capture_time_us, 10'000u) << k; }
  }
  // The newest second: it began 1 s into the vowel, less the preprocessor's 5 ms lag.
  EXPECT_EQ(f[0].header.capture_time_us, start + 1'000'000 - 5'000);
  ptt::codec::Decoder dec;
  std::vector<float> pcm(af::kMaxPacketSamples);
  for (const auto& v : f) ASSERT_EQ(dec.decode(v.opus, v.opus_size, pcm.data(), af::kMaxPacketSamples), af::kSubframeSamples);
}

// A frame the 10 ms sub-frame path cannot fill exactly is refused at construction, and nothing runs:
// no packet, no level, no state change.
TEST(CapturePipeline, RefusesAFrameSizeItCannotHonour) {
  for (int frame_ms : {0, 5, 15, 40, 60}) {
    CaptureConfig c;
    c.encoder.frame_ms = frame_ms;
    c.send_silence = true;
    CapturePipeline p(c);
    EXPECT_FALSE(p.ok()) << frame_ms;
    EXPECT_EQ(p.frame_samples(), 0) << frame_ms;
    p.press();
    feed(p, loud_speech());
    p.grant(1);
    EXPECT_EQ(p.state(), CapturePipeline::State::idle) << frame_ms;
    EXPECT_EQ(p.ready_count(), 0u) << frame_ms;
    EXPECT_EQ(p.packets_sent() + p.packets_dropped(), 0u) << frame_ms;
    EXPECT_EQ(p.level(), 0.0f) << frame_ms;
  }
}

TEST(CapturePipeline, SilenceIsNotSentAndSpeechOnsetIsKept) {
  CapturePipeline p;
  const auto speech = t::speech();
  std::vector<float> x(speech.begin(), speech.begin() + af::kSampleRate);
  x.insert(x.end(), af::kSampleRate, 0.0f);  // 1 s of silence in the middle
  x.insert(x.end(), speech.begin() + af::kSampleRate, speech.begin() + 2 * af::kSampleRate);
  p.press();
  p.grant(2);
  feed(p, x);
  std::vector<std::vector<std::uint8_t>> storage;
  auto f = frames(p, storage);
  EXPECT_GT(p.packets_skipped(), 20u);
  EXPECT_LT(f.size(), 3u * 50u - 20u);
  // The timeline keeps the silence as a gap in timestamps, not in sequence numbers.
  bool gap = false;
  for (std::size_t i = 1; i < f.size(); ++i) {
    EXPECT_EQ(f[i].header.sequence, f[i - 1].header.sequence + 1);
    if (f[i].header.timestamp - f[i - 1].header.timestamp > af::kFrameSamples) gap = true;
  }
  EXPECT_TRUE(gap);
  EXPECT_GT(f.back().header.timestamp, 2u * af::kSampleRate);  // speech after the silence was sent
  feed(p, std::vector<float>(af::kSampleRate, 0.0f));  // the VAD's 300 ms hangover, then silence counts
  EXPECT_GE(p.silence_ms(), 600u);
}

TEST(CapturePipeline, CaptureTimeIsTheFirstSamplesTime) {
  CaptureConfig c;
  c.send_silence = true;
  CapturePipeline p(c);
  p.press();
  p.grant(1);
  const std::uint64_t start = 5'000'000'000ull;
  feed(p, t::vowel(140, 0.3f, af::kSampleRate), start);
  std::vector<std::vector<std::uint8_t>> storage;
  auto f = frames(p, storage);
  ASSERT_GE(f.size(), 10u);
  // The preprocessor's output lags by 5 ms, so packet k holds what was captured at start + 20k - 5 ms.
  for (std::size_t k = 1; k < 10; ++k)
    EXPECT_EQ(f[k].header.capture_time_us, start + 20000 * k - 5000) << k;
}

TEST(CapturePipeline, PacketsDecodeToTheSpeech) {
  CaptureConfig c;
  c.send_silence = true;
  c.denoise = false;
  c.agc_max_gain_db = 0;
  CapturePipeline p(c);
  p.press();
  p.grant(1);
  const auto speech = t::speech();
  feed(p, speech);
  std::vector<std::vector<std::uint8_t>> storage;
  auto f = frames(p, storage);
  ptt::codec::Decoder dec;
  std::vector<float> out, pcm(af::kFrameSamples);
  for (const auto& v : f) {
    ASSERT_EQ(dec.decode(v.opus, v.opus_size, pcm.data(), af::kFrameSamples), af::kFrameSamples);
    out.insert(out.end(), pcm.begin(), pcm.end());
  }
  // Delays: the preprocessor's 5 ms (speexdsp runs on 5 ms frames) + Opus look-ahead, and no more.
  long lag = -1;
  EXPECT_GT(t::best_correlation(speech, out, 0, 1200, &lag), 0.8);
  // (within half a millisecond: the codec moves the correlation peak by a few samples).
  EXPECT_NEAR(lag, af::kSamplesPerMs * 5 + ptt::codec::Encoder(c.encoder).lookahead(), af::kSamplesPerMs / 2);
}

// The server decodes each talk with a freshly reset decoder, so each talk must be encoded from a
// fresh encoder too: an encoder that goes on from the previous talk's last (loud) frame codes the
// next talk's first frames as differences from it, which a fresh decoder plays as a loud burst.
TEST(CapturePipeline, EachTalkDecodesCleanlyFromAFreshDecoder) {
  CaptureConfig c;
  c.send_silence = true;
  CapturePipeline p(c);
  const auto speech = loud_speech();
  p.press();
  p.grant(1);
  // Released mid-word: at the end of the loudest 40 ms block (1,920 samples: whole 128-sample
  // quanta and whole 20 ms frames).
  std::size_t cut = 1920;
  double loudest = 0;
  for (std::size_t at = 1920; at <= speech.size(); at += 1920)
    if (const double r = t::rms(speech.data() + at - 1920, 1920); r > loudest) {
      loudest = r;
      cut = at;
    }
  ASSERT_GT(loudest, 0.05);
  feed(p, std::vector<float>(speech.begin(), speech.begin() + static_cast<std::ptrdiff_t>(cut)));
  p.release();
  p.clear_ready();
  feed(p, std::vector<float>(af::kSampleRate, 0.0f));  // idle for a second
  p.press();
  p.grant(2);
  feed(p, std::vector<float>(af::kSampleRate / 2, 0.0f));  // the second talk is silence
  std::vector<std::vector<std::uint8_t>> storage;
  auto f = frames(p, storage);
  ASSERT_GE(f.size(), 20u);
  ptt::codec::Decoder dec;
  std::vector<float> pcm(af::kFrameSamples);
  float peak = 0;
  for (const auto& v : f) {
    ASSERT_EQ(v.header.talk_id, 2u);
    ASSERT_EQ(dec.decode(v.opus, v.opus_size, pcm.data(), af::kFrameSamples), af::kFrameSamples);
    for (float x : pcm) peak = std::max(peak, std::abs(x));
  }
  EXPECT_LT(peak, 0.001f) << "a silent talk decodes to a burst as loud as " << peak;
}
