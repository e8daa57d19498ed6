// Opus wrappers measured on real signals: a sine, a synthetic vowel and espeak-ng speech must come
// back through encode + decode correlated with the input (after the encoder's look-ahead).
#include <gtest/gtest.h>

#include <array>
#include <opus.h>
#include <vector>

#include "ptt/codec.hpp"
#include "signals.hpp"

using ptt::codec::Decoder;
using ptt::codec::Encoder;
using ptt::codec::EncoderConfig;
namespace t = ptt::test;
namespace af = ptt::audio_format;

namespace {

struct RoundTrip {
  std::vector<float> decoded;
  std::size_t bytes = 0;
  int lookahead = 0;
};

RoundTrip encode_decode(const std::vector<float>& input, const EncoderConfig& config = {}) {
  Encoder enc(config);
  Decoder dec;
  EXPECT_TRUE(enc.ok() && dec.ok());
  RoundTrip r;
  r.lookahead = enc.lookahead();
  const auto frame = static_cast<std::size_t>(enc.frame_samples());
  std::array<std::uint8_t, af::kMaxOpusPacket> packet{};
  std::vector<float> pcm(ptt::codec::kMaxFrameSamples);
  for (std::size_t off = 0; off + frame <= input.size(); off += frame) {
    const int n = enc.encode(input.data() + off, packet.data(), packet.size());
    EXPECT_GT(n, 0);
    if (n <= 0) break;
    r.bytes += static_cast<std::size_t>(n);
    const int got = dec.decode(packet.data(), static_cast<std::size_t>(n), pcm.data(), static_cast<int>(pcm.size()));
    EXPECT_EQ(got, static_cast<int>(frame));
    r.decoded.insert(r.decoded.end(), pcm.begin(), pcm.begin() + got);
  }
  return r;
}

// Correlation of the decoded signal with the input, searching lags around the encoder look-ahead.
double aligned_correlation(const std::vector<float>& input, const RoundTrip& r, long* lag = nullptr) {
  return t::best_correlation(input, r.decoded, 0, r.lookahead + 240, lag);
}

}  // namespace

TEST(Codec, EncoderRejectsUnsupportedFrameLength) {
  EncoderConfig c;
  c.frame_ms = 15;
  Encoder enc(c);
  EXPECT_FALSE(enc.ok());
  EXPECT_EQ(enc.error(), OPUS_BAD_ARG);
  std::array<std::uint8_t, 64> packet{};
  std::vector<float> pcm(960);
  EXPECT_LT(enc.encode(pcm.data(), packet.data(), packet.size()), 0);
}

TEST(Codec, FrameSizesFor10And20Ms) {
  EncoderConfig c;
  EXPECT_EQ(Encoder(c).frame_samples(), 960);
  c.frame_ms = 10;
  EXPECT_EQ(Encoder(c).frame_samples(), 480);
  EXPECT_GT(Encoder(c).lookahead(), 0);
}

TEST(Codec, SineRoundTripCorrelates) {
  const auto input = t::sine(440, 0.5f, t::kRate * 2);
  const auto r = encode_decode(input);
  EXPECT_GT(aligned_correlation(input, r), 0.95);
}

TEST(Codec, VowelRoundTripCorrelates) {
  const auto input = t::vowel(130, 0.5f, t::kRate * 2);
  const auto r = encode_decode(input);
  const double c = aligned_correlation(input, r);
  EXPECT_GT(c, 0.9);
}

TEST(Codec, SpeechRoundTripCorrelates) {
  const auto input = t::speech();
  ASSERT_GT(input.size(), static_cast<std::size_t>(t::kRate));
  const auto r = encode_decode(input);
  long lag = 0;
  EXPECT_GT(aligned_correlation(input, r, &lag), 0.85);
  // Speech is not periodic, so the best lag is the encoder's look-ahead (the Ogg pre-skip).
  EXPECT_NEAR(lag, r.lookahead, 8);
}

TEST(Codec, TenMsFramesRoundTrip) {
  EncoderConfig c;
  c.frame_ms = 10;
  const auto input = t::speech();
  const auto r = encode_decode(input, c);
  EXPECT_EQ(r.decoded.size(), input.size() / 480 * 480);
  EXPECT_GT(aligned_correlation(input, r), 0.85);
}

TEST(Codec, BitrateStaysNearTheConfiguredRate) {
  const auto input = t::speech();
  const auto r = encode_decode(input);
  const double seconds = static_cast<double>(input.size()) / t::kRate;
  const double kbps = static_cast<double>(r.bytes) * 8 / seconds / 1000;
  EXPECT_GT(kbps, 8.0);
  EXPECT_LT(kbps, 32.0);  // the product's wire budget
}

TEST(Codec, FecRecoversALostPacketBetterThanConcealment) {
  const auto input = t::speech();
  Encoder enc;
  ASSERT_TRUE(enc.ok());
  std::vector<std::vector<std::uint8_t>> packets;
  std::array<std::uint8_t, af::kMaxOpusPacket> buf{};
  constexpr int kFrame = af::kFrameSamples;
  for (std::size_t off = 0; off + kFrame <= input.size(); off += kFrame) {
    const int n = enc.encode(input.data() + off, buf.data(), buf.size());
    ASSERT_GT(n, 0);
    packets.emplace_back(buf.begin(), buf.begin() + n);
  }
  // Lose every 10th packet; rebuild once with FEC from the next packet and once with plain PLC.
  auto rebuild = [&](bool use_fec) {
    Decoder dec;
    std::vector<float> out, pcm(af::kMaxPacketSamples);
    for (std::size_t i = 0; i < packets.size(); ++i) {
      int got;
      if (i % 10 == 5 && i + 1 < packets.size()) {
        got = use_fec ? dec.decode_fec(packets[i + 1].data(), packets[i + 1].size(), pcm.data(), kFrame)
                      : dec.conceal(pcm.data(), kFrame);
      } else {
        got = dec.decode(packets[i].data(), packets[i].size(), pcm.data(), af::kMaxPacketSamples);
      }
      EXPECT_EQ(got, kFrame);
      out.insert(out.end(), pcm.begin(), pcm.begin() + kFrame);
    }
    return out;
  };
  const auto with_fec = rebuild(true), with_plc = rebuild(false);
  const long lag = enc.lookahead();
  const double c_fec = t::correlation(input, with_fec, lag), c_plc = t::correlation(input, with_plc, lag);
  RecordProperty("fec", std::to_string(c_fec));
  RecordProperty("plc", std::to_string(c_plc));
  EXPECT_GT(c_fec, c_plc);
  EXPECT_GT(c_fec, 0.8);
}

TEST(Codec, ConcealmentProducesAFrameAndResetWorks) {
  Decoder dec;
  ASSERT_TRUE(dec.ok());
  std::vector<float> pcm(af::kMaxPacketSamples);
  EXPECT_EQ(dec.conceal(pcm.data(), 960), 960);
  dec.reset();
  EXPECT_EQ(dec.conceal(pcm.data(), 480), 480);
  const std::uint8_t garbage[] = {0x4B, 0x00};
  EXPECT_LT(dec.decode(garbage, sizeof garbage, pcm.data(), af::kMaxPacketSamples), 0);
  EXPECT_LT(dec.decode(nullptr, 0, pcm.data(), af::kMaxPacketSamples), 0);
}
