// The product's one audio format, named once: 48 kHz mono Opus, 20 ms packets (10 ms possible),
// processed in 10 ms sub-frames. Client (wasm), server, tests and benchmarks take their sample
// rate, frame and packet sizes from here rather than writing the numbers out.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ptt::audio_format {

inline constexpr int kSampleRate = 48000;  // Hz; Opus's native rate, so nothing is resampled
inline constexpr int kChannels = 1;
inline constexpr int kSamplesPerMs = kSampleRate / 1000;

// One packet: what the client sends and the server's audio thread plays per step.
inline constexpr int kFrameMs = 20;
inline constexpr int kFrameSamples = kFrameMs * kSamplesPerMs;  // 960
// The capture path's unit (speexdsp's preprocessor, the VAD, the level meter): speexdsp delays by
// one frame, so short frames keep latency down.
inline constexpr int kSubframeMs = 10;
inline constexpr int kSubframeSamples = kSubframeMs * kSamplesPerMs;  // 480

// The longest Opus packet there is: RFC 6716 section 3.4, requirement R2.
inline constexpr std::size_t kMaxOpusPacket = 1275;
// 60 ms: the longest Opus packet the protocol accepts, and the most one decode call produces.
inline constexpr int kMaxPacketMs = 60;
inline constexpr int kMaxPacketSamples = kMaxPacketMs * kSamplesPerMs;  // 2880

static_assert(kFrameSamples == 960 && kSubframeSamples == 480 && kMaxPacketSamples == 2880);
static_assert(kFrameSamples % kSubframeSamples == 0);

// Microseconds taken by `samples` samples (64-bit: size_t is 32 bits in wasm).
constexpr std::uint64_t samples_to_us(std::uint64_t samples) noexcept {
  return samples * 1'000'000 / static_cast<std::uint64_t>(kSampleRate);
}

}  // namespace ptt::audio_format
