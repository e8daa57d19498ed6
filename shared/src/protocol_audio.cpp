// Audio frames: the 20-byte big-endian header and the Opus packet it carries (docs/PROTOCOL.md
// section 2).
#include "ptt/protocol.hpp"

#include <opus.h>

#include <cstring>

namespace ptt::protocol {
namespace {

void put_u16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put_u32(std::uint8_t* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
void put_u64(std::uint8_t* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}
std::uint16_t get_u16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t get_u32(const std::uint8_t* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
std::uint64_t get_u64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::uint32_t opus_packet_samples(const std::uint8_t* data, std::size_t size) noexcept {
  if (data == nullptr || size == 0 || size > kMaxOpusPacket) return 0;
  if (opus_packet_get_nb_channels(data) != 1) return 0;
  // opus_packet_parse checks the whole frame-length structure (codes 0-3, padding, sizes).
  const unsigned char* frames[48];
  opus_int16 sizes[48];
  if (opus_packet_parse(data, static_cast<opus_int32>(size), nullptr, frames, sizes, nullptr) <= 0) return 0;
  const int samples = opus_packet_get_nb_samples(data, static_cast<opus_int32>(size), kSampleRate);
  if (samples <= 0 || static_cast<std::uint32_t>(samples) > kMaxPacketSamples) return 0;
  return static_cast<std::uint32_t>(samples);
}

std::size_t encode_audio_frame(const AudioHeader& h, const std::uint8_t* opus, std::size_t opus_size,
                               std::uint8_t* out, std::size_t out_capacity) noexcept {
  if (opus == nullptr || opus_size == 0 || opus_size > kMaxOpusPacket) return 0;
  const std::size_t total = kAudioHeaderSize + opus_size;
  if (out == nullptr || out_capacity < total) return 0;
  out[0] = h.version;
  out[1] = h.flags;
  put_u16(out + 2, h.sequence);
  put_u32(out + 4, h.talk_id);
  put_u32(out + 8, h.timestamp);
  put_u64(out + 12, h.capture_time_us);
  std::memcpy(out + kAudioHeaderSize, opus, opus_size);
  return total;
}

ErrorCode decode_audio_frame(const std::uint8_t* data, std::size_t size, AudioFrameView& out) noexcept {
  if (size > kMaxAudioFrame) return ErrorCode::too_large;
  if (data == nullptr || size < 1) return ErrorCode::truncated;
  if (data[0] != kVersion) return ErrorCode::bad_version;
  if (size <= kAudioHeaderSize) return ErrorCode::truncated;  // header plus at least one payload byte
  AudioHeader h;
  h.version = data[0];
  h.flags = data[1];
  if (h.flags & ~audio_flags::kKnown) return ErrorCode::bad_flags;
  h.sequence = get_u16(data + 2);
  h.talk_id = get_u32(data + 4);
  if (h.talk_id == 0) return ErrorCode::stale_talk;  // 0 is never a granted talk
  h.timestamp = get_u32(data + 8);
  h.capture_time_us = get_u64(data + 12);
  const std::uint8_t* opus = data + kAudioHeaderSize;
  const std::size_t opus_size = size - kAudioHeaderSize;
  const std::uint32_t samples = opus_packet_samples(opus, opus_size);
  if (samples == 0) return ErrorCode::bad_opus;
  out.header = h;
  out.opus = opus;
  out.opus_size = opus_size;
  out.samples = samples;
  return ErrorCode::ok;
}

}  // namespace ptt::protocol
