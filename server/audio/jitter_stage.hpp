// The playout side of one talk at a time, run by the audio thread only: speexdsp's adaptive jitter
// buffer (timestamps and spans in 48 kHz samples), Opus decoding, and concealment of what is
// missing: Opus in-band FEC from the following packet when it is already here and can carry it
// (SILK or hybrid), else Opus PLC;
// silence before a talk's first packet and between talks. No clock of its own (one pull() per
// 20 ms step), no locks, and no allocation after construction: packets live in a fixed pool that
// the jitter buffer borrows through its destroy callback.
#pragma once

#include <array>
#include <cstdint>

#include "audio_sink.hpp"
#include "ptt/audio_format.hpp"
#include "ptt/codec.hpp"

struct JitterBuffer_;

namespace ptt::server {

struct JitterConfig {
  int margin_ms = 0;        // extra delay kept on top of what the buffer computes from measured jitter
  // Each talk's first packet is held back for the margin plus the jitter measured in earlier talks
  // (the spread of packet transit times, smoothed; at most max_start_jitter_ms), so speexdsp need
  // not grow its delay by inserting concealment just after the talk starts.
  bool adaptive_start = true;
  int max_start_jitter_ms = 80;
  int max_late_rate = 2;    // percent of packets the buffer may let arrive too late (speexdsp's optimiser)
};

struct JitterStats {
  // fec: a lost packet recovered from the FEC data of the one after it; plc: concealed without
  // (nothing after it yet, or a CELT-only packet after it, which carries no FEC).
  std::uint64_t played = 0, fec = 0, plc = 0, late = 0, pool_full = 0, wrong_span = 0, misaligned = 0, talks = 0;
  // The stream jumped ahead: the stage started over there; `stale` counts the packets dropped.
  std::uint64_t resyncs = 0, stale = 0;
  std::uint64_t duplicate = 0;  // a packet for a time already held
  // Packets speexdsp stored and then threw away unplayed: it cuts its own delay by moving its play
  // position forward (after a burst or a device stall, say), and that cannot be switched off.
  std::uint64_t discarded = 0;
};

class JitterStage {
 public:
  static constexpr int kStep = audio_format::kFrameSamples;  // 20 ms: one pull, one packet
  static constexpr int kPoolSize = 64;
  // The most a packet may lead or trail the play position, less the margin, before speexdsp's
  // 16-bit timings could overflow: 300 ms each way (see put).
  static constexpr std::int64_t kMaxLead = 300 * audio_format::kSamplesPerMs;

  struct Step {
    enum Kind { idle, silence, played, fec, plc } kind = idle;
    // For played steps: the packet's timestamp and times (room's clock; TimePoint{}: unknown), for
    // latency measurement.
    std::uint32_t timestamp = 0;
    TimePoint capture{}, arrival{};
  };

  explicit JitterStage(const JitterConfig& config = {});
  ~JitterStage();
  JitterStage(const JitterStage&) = delete;
  JitterStage& operator=(const JitterStage&) = delete;

  // Resets the buffer and the decoder for a new talk.
  void start_talk(std::uint32_t talk_id) noexcept;
  // Plays out what is still buffered (until 500 ms pass with nothing to play), then goes idle.
  void end_talk(std::uint32_t talk_id) noexcept;
  // Takes a packet of the current talk; false if it was dropped (late, other talk, not 20 ms, not on
  // a 20 ms boundary, pool full).
  bool put(const AudioPacket& packet) noexcept;
  // Writes the next kStep samples into out.
  Step pull(float* out) noexcept;

  bool active() const noexcept { return talk_id_ != 0; }
  // True while pull() would give only silence because nothing is due yet: no talk, or its first
  // packet has not come or is still held back for the start delay. The caller may then play
  // silence in pieces smaller than a step, counting them with wait(), so the talk starts within a
  // device buffer of when it is due rather than at the next 20 ms step (see PlayoutRing).
  bool waiting() const noexcept {
    return talk_id_ == 0 ||
           (!started_playing_ && !draining_ && (free_count_ == kPoolSize || held_samples_ < start_delay_ms_ * audio_format::kSamplesPerMs));
  }
  // `samples` of silence were played while waiting(): they count towards the first packet's hold.
  void wait(int samples) noexcept {
    if (talk_id_ != 0 && !started_playing_ && free_count_ < kPoolSize) held_samples_ += samples;
  }
  // The delay the current (or next) talk starts with, in ms.
  int start_delay_ms() const noexcept { return start_delay_ms_; }
  std::uint32_t talk_id() const noexcept { return talk_id_; }
  const JitterStats& stats() const noexcept { return stats_; }

 private:
  struct Slot {
    JitterStage* owner;
    int index;
    bool held;
    AudioPacket packet;
  };
  static void on_destroy(void* slot) noexcept;
  void release(int index) noexcept;
  int reset_buffer() noexcept;  // returns how many packets it dropped unplayed
  Slot* held_with_timestamp(std::uint32_t timestamp) noexcept;

  JitterConfig config_;
  JitterBuffer_* jb_ = nullptr;
  codec::Decoder decoder_;
  std::array<Slot, kPoolSize> slots_;
  Slot late_marker_;  // stands in for late packets: the buffer learns their timing, nothing is borrowed
  std::array<int, kPoolSize> free_;
  int free_count_ = 0;
  std::uint32_t talk_id_ = 0;
  bool draining_ = false, started_playing_ = false, pointer_known_ = false, resetting_ = false;
  int drain_steps_ = 0;  // steps without a packet while draining
  int held_samples_ = 0;  // how long the talk's first packet has been held back (see pull)
  std::uint32_t pointer_ = 0;  // our copy of the buffer's play position
  bool talk_origin_known_ = false;  // the talk's first timestamp: the grid its packets keep to
  std::uint32_t talk_origin_ = 0;
  bool jump_pending_ = false;  // a packet came far ahead (see put)
  std::uint32_t jump_timestamp_ = 0;
  // Transit-time spread of the current talk: 2 ms bins of (arrival - timestamp) around the first packet's.
  static constexpr int kTransitBins = 512;
  std::array<std::uint16_t, kTransitBins> transit_{};
  std::int64_t transit_origin_us_ = 0;
  std::uint32_t transit_count_ = 0;
  double learned_jitter_ms_ = 0;
  int start_delay_ms_ = 0;
  void learn_jitter() noexcept;
  JitterStats stats_;
};

}  // namespace ptt::server
