// The playout side of one talk at a time, run by the audio thread only: speexdsp's adaptive jitter
// buffer (timestamps and spans in 48 kHz samples) decides when each packet is due and how much
// delay the arrival jitter needs; Opus decoding and concealment of what is missing: Opus in-band
// FEC from the following packet when it is already here and can carry it (SILK or hybrid), else
// Opus PLC; silence before a talk's first packet and between talks.
//
// A WebSocket loses nothing: a packet that is not there when due is late, not lost. So no packet
// is thrown away while it can still be played in order: one that comes after its time was
// concealed, or one speexdsp drops to cut its delay, joins the playout queue instead, and the
// talk catches up the delay this adds by skipping what is silence and, within speech, by playing
// faster without changing pitch (TimeCompression), never by skipping speech. Only a packet whose
// successor has already played, or one beyond the delay budget (after a device stall, say), is
// dropped, and counted.
//
// A talk's packets are all 10 ms or all 20 ms (the page picks; the first packet sets the talk's
// step). No clock of its own (one pull() per step), no locks, and no allocation after
// construction: packets live in a fixed pool that the jitter buffer borrows through its destroy
// callback.
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
  // (nothing after it yet, or a CELT-only packet after it, which carries no FEC). late: dropped,
  // because a later packet had already played.
  std::uint64_t played = 0, fec = 0, plc = 0, late = 0, pool_full = 0, wrong_span = 0, misaligned = 0, talks = 0;
  // The stream jumped ahead: the stage started over there; `stale` counts the packets dropped.
  std::uint64_t resyncs = 0, stale = 0;
  std::uint64_t duplicate = 0;  // a packet for a time already held
  // Packets speexdsp dropped to cut its delay that could no longer play in order (a later one had).
  std::uint64_t discarded = 0;
  // Catching up after a stall or a bunch: silent packets (not marked speech by the sender, and
  // quiet) skipped, and speech shortened by time compression (in 48 kHz samples).
  std::uint64_t skipped_silence = 0, compressed_samples = 0;
  // Packets that came after their time had been concealed and were still played, in order.
  std::uint64_t late_played = 0;
  // Packets dropped because the talk was more than the delay budget behind (a device stall).
  std::uint64_t over_budget = 0;
};

class JitterStage {
 public:
  // One pull plays one packet: 10 or 20 ms, as the talk's packets last.
  static constexpr int kMinStep = audio_format::kSubframeSamples, kMaxStep = audio_format::kFrameSamples;
  // Packets held at once: 1.28 s of the talk's step (64 of 20 ms, all 128 of 10 ms). A talk stuck
  // behind (a device stall) finds the pool full and drops, rather than queue seconds of backlog.
  static constexpr int kPoolSize = 128;
  int pool_limit() const noexcept { return kPoolSize * kMinStep / step_; }
  // How far behind the newest packet received the talk may play before the oldest packets are
  // dropped (after a device stall, say): a stall of the browser or the server shorter than this,
  // less speexdsp's delay, loses no word.
  static constexpr int kBudgetMs = 1200;  // a burst of a second (a new device stream's start, a pre-roll) fits
  // Time compression: a share of the time played that grows with how far behind the talk is, from
  // 10 % (20 ms behind) to 25 % (80 ms or more). Faster garbles speech: a queued student's
  // 0.8 s pre-roll caught up at up to 35 % lost its first words to the listener (browser.queue).
  static constexpr double kMinSpeedUp = 0.10, kMaxSpeedUp = 0.25;
  static constexpr int kCompressBeyondMs = 100;  // behind; less is caught up in pauses
  // A sender that stalls (a busy laptop's browser) sends nothing for a while, then a bunch. The
  // audio its last bunch left queued covers the next stall, so the talk keeps, uncompressed, as
  // much as the longest recent gap between arrivals (decaying with kGapMemorySeconds; at most
  // kMaxGapAllowanceMs) and catches up only what lies beyond.
  static constexpr double kGapMemorySeconds = 5.0;
  static constexpr int kMaxGapAllowanceMs = 200;
  // The most a packet may lead or trail the play position, less the margin, before speexdsp's
  // 16-bit timings could overflow: 300 ms each way (see put).
  static constexpr std::int64_t kMaxLead = 300 * audio_format::kSamplesPerMs;

  struct Step {
    enum Kind { idle, silence, played, fec, plc } kind = idle;
    int samples = 0;  // written to pull()'s out: the talk's step
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
  // Takes a packet of the current talk; false if it was dropped (a later packet already played,
  // other talk, neither 10 nor 20 ms or not as long as the talk's first, off the talk's grid,
  // repeated, pool full).
  bool put(const AudioPacket& packet) noexcept;
  // Writes the next step() samples into out (room for kMaxStep).
  Step pull(float* out) noexcept;
  // The current talk's packet duration in samples (the last talk's until its first packet comes).
  int step() const noexcept { return step_; }

  bool active() const noexcept { return talk_id_ != 0; }
  // The talk has ended and still plays out what it holds (active() until it has).
  bool draining() const noexcept { return talk_id_ != 0 && draining_; }
  // True while pull() would give only silence because nothing is due yet: no talk, or its first
  // packet has not come or is still held back for the start delay. The caller may then play
  // silence in pieces smaller than a step, counting them with wait(), so the talk starts within a
  // device buffer of when it is due rather than at the next 20 ms step (see PlayoutRing).
  bool waiting() const noexcept {
    return talk_id_ == 0 || (!started_playing_ && !draining_ &&
                             (free_count_ == kPoolSize || held_samples_ < hold_samples()));
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
  // A slot: free, lent to speexdsp, ours to play, set aside (a packet far ahead, until the next
  // one shows whether the stream jumped; see put), or still lent but copied out (see rescue).
  enum class Where : std::uint8_t { free, buffer, queue, aside, gone };
  struct Slot {
    JitterStage* owner;
    int index;
    Where where;
    AudioPacket packet;
  };
  // The playout queue, in timestamp order: packets to decode, and gaps where speexdsp found nothing
  // due (concealed when reached, unless the packet comes first).
  struct Entry {
    std::uint32_t timestamp;
    int slot;  // -1: a gap
  };
  // Decoded audio not yet played, with what each stretch of it came from.
  struct Chunk {
    int samples;
    Step::Kind kind;
    std::uint32_t timestamp;
    TimePoint capture, arrival;
  };
  static constexpr int kQueueSize = 4 * kPoolSize;
  static constexpr int kPcmSize = 4096;  // TimeCompression::kNeeds plus a packet
  static constexpr int kMaxChunks = 16;

  static void on_destroy(void* slot) noexcept;
  void release(int index) noexcept;
  int reset_buffer() noexcept;  // everything, for a new talk; returns how many packets it dropped unplayed
  Slot* held_with_timestamp(std::uint32_t timestamp) noexcept;
  bool played_past(std::uint32_t timestamp) const noexcept;
  void enqueue(Slot& slot) noexcept;
  void enqueue_gap(std::uint32_t timestamp) noexcept;
  void rescue_behind_pointer() noexcept;
  void pop_entry() noexcept;
  int queued_packets() const noexcept;
  void decode_next() noexcept;  // the queue's first entry (or concealment) into pcm_
  void append(const float* pcm, int samples, Step::Kind kind, const AudioPacket* from) noexcept;
  void consume(int samples) noexcept;
  void catch_up() noexcept;
  void drop_over_budget() noexcept;

  JitterConfig config_;
  JitterBuffer_* jb_ = nullptr;
  codec::Decoder decoder_;
  std::array<Slot, kPoolSize> slots_;
  Slot late_marker_;  // stands in for late packets: the buffer learns their timing, nothing is borrowed
  std::array<int, kPoolSize> free_;
  int free_count_ = 0;
  std::array<Entry, kQueueSize> queue_{};
  int queue_size_ = 0;
  std::array<float, kPcmSize> pcm_{};
  int pcm_size_ = 0;
  std::array<Chunk, kMaxChunks> chunks_{};
  int chunk_count_ = 0;
  std::array<float, kMaxStep> scratch_{};
  int step_ = kMaxStep;
  bool step_known_ = false;  // set by the talk's first packet
  void set_step(int samples) noexcept;
  double compress_credit_ = 0;  // samples time compression may still remove (see kMaxSpeedUp)
  bool decoded_any_ = false;  // since the talk started: last_decoded_ is the last packet taken from the queue
  std::uint32_t last_decoded_ = 0;
  std::uint32_t talk_id_ = 0;
  bool draining_ = false, started_playing_ = false, pointer_known_ = false, resetting_ = false;
  int drain_samples_ = 0;  // played without a packet while draining
  int held_samples_ = 0;  // how long the talk's first packet has been held back (see pull)
  // The least transit (arrival - timestamp) seen since the first packet came, and the first's: the
  // hold counts from when the earliest packet says the first was due (see hold_samples).
  bool hold_anchor_known_ = false;
  std::int64_t first_transit_us_ = 0, least_transit_us_ = 0;
  int hold_samples() const noexcept;
  std::uint32_t pointer_ = 0;  // the buffer's play position after the last step
  bool talk_origin_known_ = false;  // the talk's first timestamp: the grid its packets keep to
  std::uint32_t talk_origin_ = 0;
  std::uint32_t newest_ = 0;  // the latest timestamp taken (valid with talk_origin_known_)
  int jump_slot_ = -1;  // a packet that came far ahead, set aside (see put)
  // Transit-time spread of the current talk: 2 ms bins of (arrival - timestamp) around the first packet's.
  static constexpr int kTransitBins = 512;
  std::array<std::uint16_t, kTransitBins> transit_{};
  std::int64_t transit_origin_us_ = 0;
  std::uint32_t transit_count_ = 0;
  double learned_jitter_ms_ = 0;
  int start_delay_ms_ = 0;
  void learn_jitter() noexcept;
  TimePoint last_arrival_{};  // of the talk's latest packet so far
  double arrival_gap_ms_ = 0;  // the longest recent gap between arrivals, decaying
  int gap_allowance() const noexcept;
  JitterStats stats_;
};

}  // namespace ptt::server
