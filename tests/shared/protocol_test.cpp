// Audio frames: round trips and every rejection path of decode_audio_frame.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "ptt/codec.hpp"
#include "ptt/protocol.hpp"
#include "signals.hpp"

using namespace ptt::protocol;

namespace {

// 0x48: TOC of a SILK wideband 20 ms mono code-0 packet; any payload length is structurally valid.
const std::vector<std::uint8_t> kSilk20 = {0x48, 0x11, 0x22, 0x33, 0x44};

std::vector<std::uint8_t> frame(const AudioHeader& h, const std::vector<std::uint8_t>& opus) {
  std::vector<std::uint8_t> out(kMaxAudioFrame);
  const auto n = encode_audio_frame(h, opus.data(), opus.size(), out.data(), out.size());
  out.resize(n);
  return out;
}

AudioHeader sample_header() {
  AudioHeader h;
  h.flags = audio_flags::kTalkStart | audio_flags::kSpeech;
  h.sequence = 0xBEEF;
  h.talk_id = 0x01020304;
  h.timestamp = 0xA0B0C0D0;
  h.capture_time_us = 0x0001020304050607ull;
  return h;
}

}  // namespace

TEST(AudioFrame, RoundTripKeepsEveryField) {
  const auto h = sample_header();
  const auto bytes = frame(h, kSilk20);
  ASSERT_EQ(bytes.size(), kAudioHeaderSize + kSilk20.size());
  AudioFrameView v;
  ASSERT_EQ(decode_audio_frame(bytes.data(), bytes.size(), v), ErrorCode::ok);
  EXPECT_EQ(v.header.version, kVersion);
  EXPECT_EQ(v.header.flags, h.flags);
  EXPECT_EQ(v.header.sequence, h.sequence);
  EXPECT_EQ(v.header.talk_id, h.talk_id);
  EXPECT_EQ(v.header.timestamp, h.timestamp);
  EXPECT_EQ(v.header.capture_time_us, h.capture_time_us);
  EXPECT_EQ(v.samples, 960u);
  ASSERT_EQ(v.opus_size, kSilk20.size());
  EXPECT_TRUE(std::equal(kSilk20.begin(), kSilk20.end(), v.opus));
}

TEST(AudioFrame, HeaderIsBigEndianAtDocumentedOffsets) {
  const auto bytes = frame(sample_header(), kSilk20);
  const std::vector<std::uint8_t> expected = {0x01, 0x03, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, 0xA0, 0xB0,
                                              0xC0, 0xD0, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  EXPECT_EQ(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + kAudioHeaderSize), expected);
}

TEST(AudioFrame, RealEncodedPacketsRoundTrip) {
  ptt::codec::Encoder enc;
  ASSERT_TRUE(enc.ok());
  constexpr int kFrame = ptt::audio_format::kFrameSamples;
  const auto pcm = ptt::test::vowel(140, 0.5f, kFrame * 10);
  std::array<std::uint8_t, kMaxOpusPacket> packet{};
  for (int i = 0; i < 10; ++i) {
    const int n = enc.encode(pcm.data() + kFrame * i, packet.data(), packet.size());
    ASSERT_GT(n, 0);
    AudioHeader h;
    h.talk_id = 7;
    h.sequence = static_cast<std::uint16_t>(i);
    h.timestamp = static_cast<std::uint32_t>(kFrame * i);
    const auto bytes = frame(h, std::vector<std::uint8_t>(packet.begin(), packet.begin() + n));
    AudioFrameView v;
    ASSERT_EQ(decode_audio_frame(bytes.data(), bytes.size(), v), ErrorCode::ok) << "packet " << i;
    EXPECT_EQ(v.samples, 960u);
    EXPECT_EQ(v.header.timestamp, 960u * i);
  }
}

TEST(AudioFrame, LargestPayloadIsAccepted) {
  std::vector<std::uint8_t> opus(kMaxOpusPacket, 0x55);
  opus[0] = 0x48;
  const auto bytes = frame(sample_header(), opus);
  ASSERT_EQ(bytes.size(), kMaxAudioFrame);
  AudioFrameView v;
  EXPECT_EQ(decode_audio_frame(bytes.data(), bytes.size(), v), ErrorCode::ok);
}

TEST(AudioFrame, EncodeRefusesEmptyOversizedOrShortBuffer) {
  std::vector<std::uint8_t> out(kMaxAudioFrame + 10);
  const auto h = sample_header();
  EXPECT_EQ(encode_audio_frame(h, kSilk20.data(), 0, out.data(), out.size()), 0u);
  std::vector<std::uint8_t> big(kMaxOpusPacket + 1, 0x48);
  EXPECT_EQ(encode_audio_frame(h, big.data(), big.size(), out.data(), out.size()), 0u);
  EXPECT_EQ(encode_audio_frame(h, kSilk20.data(), kSilk20.size(), out.data(), kAudioHeaderSize + 4), 0u);
  EXPECT_EQ(encode_audio_frame(h, kSilk20.data(), kSilk20.size(), out.data(), kAudioHeaderSize + 5), 25u);
}

TEST(AudioFrame, RejectsEveryTruncation) {
  const auto bytes = frame(sample_header(), kSilk20);
  AudioFrameView v;
  v.header.talk_id = 99;  // must stay untouched on error
  EXPECT_EQ(decode_audio_frame(bytes.data(), 0, v), ErrorCode::truncated);
  for (std::size_t n = 1; n <= kAudioHeaderSize; ++n)
    EXPECT_EQ(decode_audio_frame(bytes.data(), n, v), ErrorCode::truncated) << n << " bytes";
  EXPECT_EQ(v.header.talk_id, 99u);
}

TEST(AudioFrame, RejectsOversizedFrame) {
  std::vector<std::uint8_t> bytes(kMaxAudioFrame + 1, 0);
  bytes[0] = kVersion;
  AudioFrameView v;
  EXPECT_EQ(decode_audio_frame(bytes.data(), bytes.size(), v), ErrorCode::too_large);
}

TEST(AudioFrame, RejectsUnknownVersion) {
  auto bytes = frame(sample_header(), kSilk20);
  AudioFrameView v;
  for (std::uint8_t version : {0, 2, 0xFF}) {
    bytes[0] = version;
    EXPECT_EQ(decode_audio_frame(bytes.data(), bytes.size(), v), ErrorCode::bad_version);
  }
}

TEST(AudioFrame, RejectsReservedFlagBits) {
  auto bytes = frame(sample_header(), kSilk20);
  AudioFrameView v;
  for (int bit = 2; bit < 8; ++bit) {
    bytes[1] = static_cast<std::uint8_t>(1u << bit);
    EXPECT_EQ(decode_audio_frame(bytes.data(), bytes.size(), v), ErrorCode::bad_flags) << "bit " << bit;
  }
}

TEST(AudioFrame, RejectsTalkIdZero) {
  auto h = sample_header();
  h.talk_id = 0;
  const auto bytes = frame(h, kSilk20);
  AudioFrameView v;
  EXPECT_EQ(decode_audio_frame(bytes.data(), bytes.size(), v), ErrorCode::stale_talk);
}

TEST(AudioFrame, RejectsPayloadsThatAreNotOneMonoOpusPacketOf60msOrLess) {
  const std::vector<std::vector<std::uint8_t>> bad = {
      {0x4C, 0x11, 0x22},              // stereo bit set
      {0x49, 0x11, 0x22, 0x33},        // code 1 (two equal frames) with an odd remainder
      {0x4A, 0xFC},                    // code 2 whose first frame length runs past the end
      {0x4B, 0x00},                    // code 3 with zero frames
      {0x4B, 0x04, 0x11, 0x22},        // code 3, four 20 ms frames: 80 ms, over our 60 ms limit
      {0x4B},                          // code 3 with no count byte
  };
  for (const auto& opus : bad) {
    const auto bytes = frame(sample_header(), opus);
    AudioFrameView v;
    EXPECT_EQ(decode_audio_frame(bytes.data(), bytes.size(), v), ErrorCode::bad_opus)
        << "TOC " << std::hex << int(opus[0]);
  }
}

TEST(AudioFrame, PacketDurationsFromTheToc) {
  const std::uint8_t silk10[] = {0x40}, silk20[] = {0x48}, silk60[] = {0x58}, celt2_5[] = {0x80};
  EXPECT_EQ(opus_packet_samples(silk10, 1), 480u);
  EXPECT_EQ(opus_packet_samples(silk20, 1), 960u);
  EXPECT_EQ(opus_packet_samples(silk60, 1), 2880u);
  EXPECT_EQ(opus_packet_samples(celt2_5, 1), 120u);
  EXPECT_EQ(opus_packet_samples(nullptr, 0), 0u);
}

TEST(ErrorCodes, NamesRoundTrip) {
  for (int i = 1; i <= static_cast<int>(ErrorCode::internal); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    const auto back = error_code_from_string(to_string(code));
    ASSERT_TRUE(back.has_value()) << to_string(code);
    EXPECT_EQ(*back, code);
  }
  EXPECT_FALSE(error_code_from_string("no_such_code").has_value());
}
