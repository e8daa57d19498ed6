// The student's side of a talk, as the AudioWorklet runs it (compiled to wasm) and the tests run
// it natively: 10 ms sub-frames through speexdsp's preprocessor (noise suppression, bounded gain;
// run on 5 ms frames, since it delays by one of them), the voice-activity detector and the level
// meter; 20 ms (or 10 ms) Opus packets framed with the shared protocol. A packet is a whole number
// of 10 ms sub-frames: a configuration whose frame is not (any frame_ms but 10 or 20) leaves the
// pipeline not ok(), and it then produces nothing.
//
// A press starts a pre-roll: packets are encoded and held (up to `preroll_ms`) until the grant
// arrives, then sent first, so the first syllable is not lost; a denial drops them. While live,
// packets the VAD judges silent are not sent (their timestamps leave a gap) except the one just
// before speech resumes, which carries the start of the word. Each press starts a fresh Opus
// stream, as the server decodes each talk from a reset decoder. No allocation after construction.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "ptt/audio_format.hpp"
#include "ptt/codec.hpp"
#include "ptt/frame_assembler.hpp"
#include "ptt/level_meter.hpp"
#include "ptt/preprocessor.hpp"
#include "ptt/protocol.hpp"
#include "ptt/vad.hpp"

namespace ptt {

struct CaptureConfig {
  codec::EncoderConfig encoder;  // frame_ms: 20 (the default) or 10
  int agc_max_gain_db = 18;
  bool denoise = true;
  int preroll_ms = 1000;
  bool send_silence = false;  // true: every packet is sent, speech or not
};

class CapturePipeline {
 public:
  static constexpr std::size_t kMaxPreroll = 100;  // packets: 2 s of 20 ms ones, 1 s of 10 ms ones
  // A grant hands over the whole pre-roll at once, with room left for what the same push adds.
  static constexpr std::size_t kMaxReady = kMaxPreroll + 28;

  enum class State : std::uint8_t { idle, requesting, live };

  explicit CapturePipeline(const CaptureConfig& config = {}) noexcept;
  // False when the encoder or preprocessor failed, or the configured frame is one the sub-frame
  // path cannot fill exactly; push() then does nothing.
  bool ok() const noexcept { return frame_samples_ != 0 && encoder_.ok() && preprocessor_.ok(); }
  // Samples per packet: 960 or 480 (0 when the configured frame cannot be honoured).
  int frame_samples() const noexcept { return frame_samples_; }

  // Feeds n samples (48 kHz mono, any count) whose first sample was captured at capture_us on the
  // sender's clock (the clock its pings use).
  void push(const float* samples, std::size_t n, std::uint64_t capture_us) noexcept;

  void press() noexcept;                    // idle -> requesting: start the pre-roll
  void grant(std::uint32_t talk_id) noexcept;  // requesting -> live: the pre-roll becomes ready
  void release() noexcept;                  // -> idle: nothing more is produced
  void cancel() noexcept { release(); }     // denied: the pre-roll is dropped
  // The server hears its speakers in this microphone: the gain control may lower its gain but no
  // longer raise it, so it cannot make up for the server lowering its playback (until the next press).
  void hold_gain() noexcept { preprocessor_.hold_agc_gain(); }
  float agc_gain_db() const noexcept { return preprocessor_.agc_gain_db(); }

  State state() const noexcept { return state_; }
  // Framed audio packets ready to send, oldest first; clear_ready() once sent.
  std::size_t ready_count() const noexcept { return ready_count_; }
  const std::uint8_t* ready_data(std::size_t i) const noexcept { return ready_[i].bytes.data(); }
  std::size_t ready_size(std::size_t i) const noexcept { return ready_[i].size; }
  void clear_ready() noexcept { ready_count_ = 0; }

  float level() const noexcept { return meter_.display_level(); }  // 0..1 for the meter
  bool speech() const noexcept { return vad_.active(); }
  // How long the VAD has heard no speech, in ms (for the "we can't hear you" hint).
  std::uint32_t silence_ms() const noexcept { return silent_subframes_ * audio_format::kSubframeMs; }
  std::uint64_t packets_sent() const noexcept { return sent_; }
  std::uint64_t packets_skipped() const noexcept { return skipped_; }
  std::uint64_t packets_dropped() const noexcept { return dropped_; }

 private:
  struct Encoded {
    std::array<std::uint8_t, protocol::kMaxOpusPacket> opus;
    std::uint16_t size = 0;
    bool speech = false;
    std::uint64_t capture_us = 0;
  };
  struct Ready {
    std::array<std::uint8_t, protocol::kMaxAudioFrame> bytes;
    std::size_t size = 0;
  };

  void subframe(const float* x, std::uint64_t capture_us) noexcept;
  void frame(const float* x, bool speech, std::uint64_t capture_us) noexcept;
  void emit(const Encoded& e, std::uint32_t timestamp) noexcept;

  CaptureConfig config_;
  int frame_samples_;  // per packet; 0: the configured frame is refused
  codec::Encoder encoder_;
  Preprocessor preprocessor_;
  VoiceActivityDetector vad_;
  LevelMeter meter_;
  FrameAssembler subframes_{audio_format::kSubframeSamples};
  std::uint64_t next_capture_us_ = 0;  // capture time of the assembler's first buffered sample
  std::array<float, audio_format::kSubframeSamples> scratch_{};
  std::array<float, audio_format::kFrameSamples> frame_{};  // the first frame_samples_ are used
  int frame_fill_ = 0;
  bool frame_speech_ = false;
  std::uint64_t frame_capture_us_ = 0;

  State state_ = State::idle;
  std::uint32_t talk_id_ = 0;
  std::uint32_t timestamp_ = 0;  // of the next packet in the talk
  std::uint16_t sequence_ = 0;
  bool first_packet_ = true;
  Encoded held_{};               // the last silent packet not sent (sent if speech follows)
  bool has_held_ = false;
  std::array<Encoded, kMaxPreroll> preroll_{};
  std::size_t preroll_start_ = 0, preroll_count_ = 0, preroll_limit_;
  std::array<Ready, kMaxReady> ready_{};
  std::size_t ready_count_ = 0;
  std::uint32_t silent_subframes_ = 0;
  std::uint64_t sent_ = 0, skipped_ = 0, dropped_ = 0;
};

}  // namespace ptt
