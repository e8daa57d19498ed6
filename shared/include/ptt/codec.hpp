// RAII wrappers around libopus for the product's one audio format: 48 kHz mono, VOIP application,
// 20 ms frames by default (10 ms possible), in-band FEC on. No exceptions: construction failure is
// reported by ok()/error(), and every call returns a libopus status (negative on error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "ptt/audio_format.hpp"

struct OpusEncoder;
struct OpusDecoder;

namespace ptt::codec {

inline constexpr int kSampleRate = audio_format::kSampleRate;
inline constexpr int kChannels = audio_format::kChannels;
inline constexpr int kMaxFrameSamples = audio_format::kMaxPacketSamples;  // the most one decode call produces

struct EncoderConfig {
  int frame_ms = audio_format::kFrameMs;  // 10 or 20
  int bitrate = 24000;            // bits per second
  int complexity = 5;             // 0..10; 5 keeps the worklet well inside real time
  bool inband_fec = true;
  int expected_loss_percent = 5;  // drives how much FEC the encoder spends
  bool dtx = false;               // discontinuous transmission: tiny packets in silence
};

class Encoder {
 public:
  explicit Encoder(const EncoderConfig& config = {}) noexcept;
  bool ok() const noexcept { return state_ != nullptr; }
  int error() const noexcept { return error_; }
  int frame_samples() const noexcept { return frame_samples_; }
  // Encoder delay in samples: the decoded signal lags the input by this much (Ogg Opus pre-skip).
  int lookahead() const noexcept;

  // Encodes exactly frame_samples() samples; returns the packet size in bytes or a negative libopus error.
  int encode(const float* pcm, std::uint8_t* packet, std::size_t capacity) noexcept;
  // Forgets everything encoded so far (settings are kept): the next packet starts a stream that a
  // freshly reset decoder plays cleanly.
  void reset() noexcept;

 private:
  struct Deleter { void operator()(OpusEncoder* e) const noexcept; };
  std::unique_ptr<OpusEncoder, Deleter> state_;
  int error_ = 0;
  int frame_samples_ = audio_format::kFrameSamples;
};

// Every sample a Decoder writes is within [-1, 1]: libopus's float decoder may overshoot (a hostile
// packet reached 2.8 under fuzzing), so its output goes through libopus's own soft clipper.
class Decoder {
 public:
  Decoder() noexcept;
  bool ok() const noexcept { return state_ != nullptr; }
  int error() const noexcept { return error_; }

  // Decodes one packet; returns samples written or a negative libopus error.
  int decode(const std::uint8_t* packet, std::size_t size, float* pcm, int capacity) noexcept;
  // Recovers a lost packet of `samples` samples from the FEC data carried in the packet that followed it.
  int decode_fec(const std::uint8_t* next_packet, std::size_t size, float* pcm, int samples) noexcept;
  // Packet loss concealment for a lost packet of `samples` samples.
  int conceal(float* pcm, int samples) noexcept;
  void reset() noexcept;

 private:
  struct Deleter { void operator()(OpusDecoder* d) const noexcept; };
  std::unique_ptr<OpusDecoder, Deleter> state_;
  int error_ = 0;
  float softclip_memory_ = 0.0f;
  int clipped(int samples, float* pcm) noexcept;
};

}  // namespace ptt::codec
