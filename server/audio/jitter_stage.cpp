#include "jitter_stage.hpp"

#include <speex/speex_jitter.h>

#include "ptt/protocol.hpp"
#include "time_compression.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ptt::server {
namespace {

// Opus in-band FEC (LBRR) lives in SILK frames only: TOC configurations 0 to 15 (SILK-only and
// hybrid). A CELT-only packet (16 to 31) has none, and libopus asked to decode its FEC quietly
// conceals instead: that is PLC, and is counted so.
bool can_carry_fec(const AudioPacket& p) noexcept { return p.size > 0 && (p.opus[0] >> 3) < 16; }

// The signed distance a - b between two timestamps, across the 32-bit wrap.
std::int32_t after(std::uint32_t a, std::uint32_t b) noexcept { return static_cast<std::int32_t>(a - b); }

// Below this (-45 dBFS mean square) a packet the sender did not mark as speech may be skipped to
// catch up; a loud one is played, compressed if need be, whatever the sender's VAD said.
constexpr float kSilenceMeanSquare = 3.2e-5f;

}  // namespace

JitterStage::JitterStage(const JitterConfig& config) : config_(config) {
  for (int i = 0; i < kPoolSize; ++i) {
    slots_[i].owner = this;
    slots_[i].index = i;
    slots_[i].where = Where::free;
    free_[i] = i;
  }
  free_count_ = kPoolSize;
  late_marker_.owner = this;
  late_marker_.index = -1;
  late_marker_.where = Where::free;
  jb_ = jitter_buffer_init(kMaxStep);
  // With a destroy callback the buffer stores our pointers instead of copying (and allocating).
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_DESTROY_CALLBACK, reinterpret_cast<void*>(&JitterStage::on_destroy));
  // Delay changes in whole packets: pull() plays whole packets, and with a smaller step speexdsp
  // moves its play position into the middle of one, loses count of what is buffered ("negative
  // buffering" on stderr) and drops or inserts audio it did not decide on.
  spx_int32_t margin = config.margin_ms * audio_format::kSamplesPerMs, late = std::max(1, config.max_late_rate);
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_MARGIN, &margin);
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_MAX_LATE_RATE, &late);
  set_step(kMaxStep);
  start_delay_ms_ = config.margin_ms;
}

// The talk's packet duration: speexdsp's delay steps and concealment follow it (its buffer is
// empty when a talk's first packet sets it).
void JitterStage::set_step(int samples) noexcept {
  step_ = samples;
  spx_int32_t step = samples;
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_DELAY_STEP, &step);
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_CONCEALMENT_SIZE, &step);
}

// The spread (2nd to 98th percentile) of this talk's transit times, folded into the delay the next
// talk starts with.
void JitterStage::learn_jitter() noexcept {
  if (transit_count_ >= 25) {
    const auto lo_target = transit_count_ / 50, hi_target = transit_count_ - transit_count_ / 50;
    std::uint32_t seen = 0;
    int lo = -1, hi = -1;
    for (int i = 0; i < kTransitBins; ++i) {
      seen += transit_[static_cast<std::size_t>(i)];
      if (lo < 0 && seen > lo_target) lo = i;
      if (hi < 0 && seen >= hi_target) hi = i;
    }
    const double spread_ms = 2.0 * (hi - lo);
    learned_jitter_ms_ = learned_jitter_ms_ == 0 ? spread_ms : 0.5 * learned_jitter_ms_ + 0.5 * spread_ms;
  }
  const double learned = config_.adaptive_start ? learned_jitter_ms_ : 0.0;
  start_delay_ms_ = config_.margin_ms + std::min(static_cast<int>(learned + 0.5), config_.max_start_jitter_ms);
  transit_.fill(0);
  transit_count_ = 0;
  transit_origin_us_ = 0;
}

JitterStage::~JitterStage() {
  resetting_ = true;
  jitter_buffer_reset(jb_);
  jitter_buffer_destroy(jb_);
}

// speexdsp hands a packet back: on a reset, or because it moved its play position past it to cut
// its delay (after a bunch, say). In the second case the packet joins the playout queue, to be
// caught up, unless a later packet has already played.
void JitterStage::on_destroy(void* p) noexcept {
  auto* slot = static_cast<Slot*>(p);
  JitterStage& self = *slot->owner;
  if (slot->index < 0) return;
  if (slot->where == Where::gone) {  // its copy is queued (rescue_behind_pointer)
    self.release(slot->index);
    return;
  }
  if (slot->where != Where::buffer) return;
  if (self.resetting_) {
    self.release(slot->index);
  } else if (self.played_past(slot->packet.header.timestamp)) {
    ++self.stats_.discarded;
    self.release(slot->index);
  } else {
    self.enqueue(*slot);
  }
}

void JitterStage::release(int index) noexcept {
  if (index < 0 || slots_[index].where == Where::free) return;
  slots_[index].where = Where::free;
  free_[free_count_++] = index;
}

int JitterStage::reset_buffer() noexcept {
  const int held = kPoolSize - free_count_;
  resetting_ = true;
  jitter_buffer_reset(jb_);  // hands every stored packet back through on_destroy
  resetting_ = false;
  // A packet the buffer judged hopelessly late was neither stored nor destroyed: reclaim it now.
  for (int i = 0; i < kPoolSize; ++i) release(i);
  decoder_.reset();
  queue_size_ = pcm_size_ = chunk_count_ = 0;
  compress_credit_ = 0;
  decoded_any_ = false;
  started_playing_ = pointer_known_ = draining_ = false;
  jump_slot_ = -1;
  drain_samples_ = held_samples_ = 0;
  hold_anchor_known_ = false;
  return held;
}

void JitterStage::start_talk(std::uint32_t talk_id) noexcept {
  if (talk_id_ != 0) learn_jitter();  // a talk cut short by the next one still teaches
  stats_.discarded += static_cast<std::uint64_t>(reset_buffer());
  talk_id_ = talk_id;
  talk_origin_known_ = step_known_ = false;
  last_arrival_ = TimePoint{};  // the pause before a talk is no gap in it
  ++stats_.talks;
}

void JitterStage::end_talk(std::uint32_t talk_id) noexcept {
  if (talk_id == talk_id_) draining_ = true;
}

// True if the packet at `timestamp` can no longer play in order: it, or a packet after it, has
// been taken from the playout queue.
bool JitterStage::played_past(std::uint32_t timestamp) const noexcept {
  return decoded_any_ && after(timestamp, last_decoded_) <= 0;
}

// speexdsp moved its play position past packets it still holds (to cut its delay) and returns the
// one after them now, but hands them back only at the next put: queued then, they would come after
// a packet already played. So they are copied into the queue now, and their slots freed when
// speexdsp lets go of them.
void JitterStage::rescue_behind_pointer() noexcept {
  for (auto& s : slots_) {
    if (s.where != Where::buffer || after(s.packet.header.timestamp + static_cast<std::uint32_t>(step_), pointer_) > 0) continue;
    if (kPoolSize - free_count_ >= pool_limit() || played_past(s.packet.header.timestamp)) break;
    Slot& copy = slots_[free_[--free_count_]];
    copy.packet = s.packet;
    s.where = Where::gone;
    enqueue(copy);
  }
}

void JitterStage::enqueue(Slot& slot) noexcept {
  const std::uint32_t ts = slot.packet.header.timestamp;
  int at = queue_size_;
  while (at > 0 && after(queue_[at - 1].timestamp, ts) > 0) --at;
  if (at > 0 && queue_[at - 1].timestamp == ts) {
    Entry& e = queue_[at - 1];
    if (e.slot < 0) {  // the packet a gap was waiting for
      e.slot = slot.index;
      slot.where = Where::queue;
      return;
    }
    ++stats_.duplicate;
    slot.where = Where::queue;  // so that release() takes it back
    release(slot.index);
    return;
  }
  if (queue_size_ == kQueueSize) {  // cannot happen with fewer slots than entries, but never overflow
    ++stats_.pool_full;
    slot.where = Where::queue;
    release(slot.index);
    return;
  }
  std::copy_backward(queue_.begin() + at, queue_.begin() + queue_size_, queue_.begin() + queue_size_ + 1);
  queue_[at] = Entry{ts, slot.index};
  ++queue_size_;
  slot.where = Where::queue;
}

void JitterStage::enqueue_gap(std::uint32_t timestamp) noexcept {
  if (played_past(timestamp) || queue_size_ == kQueueSize) return;
  int at = queue_size_;
  while (at > 0 && after(queue_[at - 1].timestamp, timestamp) > 0) --at;
  if (at > 0 && queue_[at - 1].timestamp == timestamp) return;
  std::copy_backward(queue_.begin() + at, queue_.begin() + queue_size_, queue_.begin() + queue_size_ + 1);
  queue_[at] = Entry{timestamp, -1};
  ++queue_size_;
}

void JitterStage::pop_entry() noexcept {
  std::copy(queue_.begin() + 1, queue_.begin() + queue_size_, queue_.begin());
  --queue_size_;
}

int JitterStage::queued_packets() const noexcept {
  int n = 0;
  for (int i = 0; i < queue_size_; ++i) n += queue_[i].slot >= 0;
  return n;
}

void JitterStage::append(const float* pcm, int samples, Step::Kind kind, const AudioPacket* from) noexcept {
  samples = std::min(samples, kPcmSize - pcm_size_);
  if (samples <= 0) return;
  std::copy_n(pcm, samples, pcm_.data() + pcm_size_);
  pcm_size_ += samples;
  if (chunk_count_ == kMaxChunks) {  // never with the sizes above; merge into the last rather than lose count
    chunks_[kMaxChunks - 1].samples += samples;
    return;
  }
  Chunk& c = chunks_[chunk_count_++];
  c.samples = samples;
  c.kind = kind;
  c.timestamp = from ? from->header.timestamp : 0;
  c.capture = from ? from->capture : TimePoint{};
  c.arrival = from ? from->arrival : TimePoint{};
}

void JitterStage::consume(int samples) noexcept {
  samples = std::min(samples, pcm_size_);
  std::copy(pcm_.begin() + samples, pcm_.begin() + pcm_size_, pcm_.begin());
  pcm_size_ -= samples;
  int first = 0;
  while (samples > 0 && first < chunk_count_) {
    Chunk& c = chunks_[first];
    const int n = std::min(samples, c.samples);
    c.samples -= n;
    if (c.kind == Step::played) {
      c.timestamp += static_cast<std::uint32_t>(n);
      if (c.capture != TimePoint{}) c.capture += std::chrono::microseconds(n * 1000 / audio_format::kSamplesPerMs);
    }
    samples -= n;
    if (c.samples == 0) ++first;
  }
  std::copy(chunks_.begin() + first, chunks_.begin() + chunk_count_, chunks_.begin());
  chunk_count_ -= first;
}

// Takes the queue's first entry into pcm_: a packet decoded, a gap recovered from the next
// packet's FEC or concealed; with the queue empty, concealment (the stream is late: the packet, if
// it comes, plays after it).
void JitterStage::decode_next() noexcept {
  float* out = scratch_.data();
  const int n = step_;
  if (queue_size_ == 0) {
    if (draining_) drain_samples_ += n;
    if (decoder_.conceal(out, n) != n) std::fill_n(out, n, 0.0f);
    ++stats_.plc;
    append(out, n, Step::plc, nullptr);
    return;
  }
  const Entry e = queue_[0];
  pop_entry();
  if (e.slot < 0 && draining_) drain_samples_ += n;  // nothing came for this time
  if (e.slot >= 0) {
    Slot& slot = slots_[e.slot];
    // put() let in only packets of the talk's step, and one that decodes to anything else plays as silence.
    if (decoder_.decode(slot.packet.opus.data(), slot.packet.size, out, n) != n) std::fill_n(out, n, 0.0f);
    append(out, n, Step::played, &slot.packet);
    decoded_any_ = true;
    last_decoded_ = e.timestamp;
    drain_samples_ = 0;
    ++stats_.played;
    release(e.slot);
    return;
  }
  // A gap. The next packet, queued or still in speexdsp's buffer, may carry it in its FEC data.
  if (const Slot* next = held_with_timestamp(e.timestamp + static_cast<std::uint32_t>(n));
      next && can_carry_fec(next->packet) && decoder_.decode_fec(next->packet.opus.data(), next->packet.size, out, n) == n) {
    ++stats_.fec;
    append(out, n, Step::fec, nullptr);
    return;
  }
  if (decoder_.conceal(out, n) != n) std::fill_n(out, n, 0.0f);
  ++stats_.plc;
  append(out, n, Step::plc, nullptr);
}

// More than a step is waiting to be played: the talk is behind. Gaps that packets after them
// show were never sent, and silent packets, go first; then speech is played faster.
void JitterStage::catch_up() noexcept {
  drop_over_budget();
  const int keep = gap_allowance(), step = step_;
  auto behind = [&] { return pcm_size_ + queued_packets() * step - step - keep; };
  if (behind() < step) {
    compress_credit_ = 0;
    return;
  }
  // Only what has not started playing can be skipped whole.
  while (pcm_size_ == 0 && queue_size_ > 0 && behind() >= step) {
    const Entry e = queue_[0];
    if (e.slot < 0) {
      // A gap before a packet that came: over a WebSocket it was never sent (silence left out).
      if (queue_size_ > 1 && queued_packets() > 0) {
        pop_entry();
        continue;
      }
      break;
    }
    Slot& slot = slots_[e.slot];
    float* out = scratch_.data();
    if (decoder_.decode(slot.packet.opus.data(), slot.packet.size, out, step) != step) std::fill_n(out, step, 0.0f);
    pop_entry();
    decoded_any_ = true;
    last_decoded_ = e.timestamp;
    float mean_square = 0;
    for (int i = 0; i < step; ++i) mean_square += out[i] * out[i];
    mean_square /= static_cast<float>(step);
    const bool silent = (slot.packet.header.flags & protocol::audio_flags::kSpeech) == 0 && mean_square < kSilenceMeanSquare;
    if (silent) {
      ++stats_.skipped_silence;
      release(e.slot);
      continue;
    }
    append(out, step, Step::played, &slot.packet);
    ++stats_.played;
    release(e.slot);
  }
  // Speech is compressed only beyond kCompressBeyondMs behind: within it the talk catches up in
  // its pauses, and every compression is heard as hurried speech.
  if (behind() < kCompressBeyondMs * audio_format::kSamplesPerMs) return;
  // Speech: cut whole pitch periods out of the audio about to play, faster the further behind
  // (4 points per 20 ms).
  const double speed = std::min(kMaxSpeedUp, kMinSpeedUp + 0.04 * behind() / audio_format::kFrameSamples);
  compress_credit_ = std::min(compress_credit_ + speed * step, 2.0 * TimeCompression::kMaxLag);
  while (pcm_size_ < TimeCompression::kNeeds && queue_size_ > 0) decode_next();
  if (pcm_size_ < TimeCompression::kNeeds) return;
  const int lag = TimeCompression::best_lag(pcm_.data(), TimeCompression::kMaxLag);
  // As many periods as the credit allows, leaving a step to play and the fade its two sides.
  const int cut = std::min(lag * static_cast<int>(compress_credit_ / lag), std::min(pcm_size_ - step, pcm_size_ / 2) / lag * lag);
  if (cut <= 0) return;
  compress_credit_ -= cut;
  pcm_size_ = TimeCompression::remove(pcm_.data(), pcm_size_, cut);
  stats_.compressed_samples += static_cast<std::uint64_t>(cut);
  // The stretch removed belonged to the first chunks.
  for (int removed = cut, i = 0; removed > 0 && i < chunk_count_; ++i) {
    const int n = std::min(removed, chunks_[i].samples);
    chunks_[i].samples -= n;
    removed -= n;
  }
  int kept = 0;
  for (int i = 0; i < chunk_count_; ++i)
    if (chunks_[i].samples > 0) chunks_[kept++] = chunks_[i];
  chunk_count_ = kept;
}

// In samples: what the recent gaps between arrivals ask to keep queued beyond the step playing.
int JitterStage::gap_allowance() const noexcept {
  const double ms = std::min<double>(arrival_gap_ms_ - step_ / audio_format::kSamplesPerMs, kMaxGapAllowanceMs);
  return ms > 0 ? static_cast<int>(ms) * audio_format::kSamplesPerMs : 0;
}

// A device stall (or a sender far ahead) left the talk playing more than the budget behind the
// newest packet: the oldest go.
void JitterStage::drop_over_budget() noexcept {
  if (!talk_origin_known_) return;
  const std::int32_t budget = kBudgetMs * audio_format::kSamplesPerMs;
  while (queue_size_ > 0 && after(newest_, queue_[0].timestamp) > budget) {
    const Entry e = queue_[0];
    pop_entry();
    if (e.slot < 0) continue;
    decoded_any_ = true;
    last_decoded_ = e.timestamp;
    ++stats_.over_budget;
    release(e.slot);
  }
}

bool JitterStage::put(const AudioPacket& p) noexcept {
  const std::uint32_t timestamp = p.header.timestamp;
  if (p.header.talk_id != talk_id_ || talk_id_ == 0) return false;
  // The talk's first packet sets its step; every other must last as long.
  const int span = static_cast<int>(p.samples);
  if (step_known_ ? span != step_ : span != kMinStep && span != kMaxStep) {
    ++stats_.wrong_span;
    return false;
  }
  // Senders step timestamps by whole packets from 0. A packet straddling two steps would make
  // speexdsp see negative buffering and write a warning to stderr for each one: a talker could
  // flood the professor's terminal (found by fuzz_opus_path). Across the 32-bit wrap the grid of 0
  // shifts (2^32 is no multiple of 480 or 960), so the spacing from the talk's first packet is
  // checked too; no real talk lasts the 24.8 hours to the wrap.
  if (timestamp % static_cast<std::uint32_t>(span) != 0 || (talk_origin_known_ && after(timestamp, talk_origin_) % span != 0)) {
    ++stats_.misaligned;
    return false;
  }
  if (!step_known_) {
    step_known_ = true;
    if (span != step_) set_step(span);
  }
  if (!talk_origin_known_) {
    talk_origin_known_ = true;
    talk_origin_ = newest_ = timestamp;
  }
  if (p.arrival != TimePoint{}) {
    if (last_arrival_ != TimePoint{} && p.arrival > last_arrival_) {
      const double gap_ms = std::chrono::duration<double, std::milli>(p.arrival - last_arrival_).count();
      arrival_gap_ms_ = std::max(gap_ms, arrival_gap_ms_ * std::exp(-gap_ms / 1000.0 / kGapMemorySeconds));
    }
    if (p.arrival > last_arrival_) last_arrival_ = p.arrival;
    // Transit = arrival - send time (timestamp), up to a constant: its spread is the jitter.
    const std::int64_t arrival_us =
        std::chrono::duration_cast<std::chrono::microseconds>(p.arrival.time_since_epoch()).count();
    const std::int64_t transit = arrival_us - static_cast<std::int64_t>(timestamp) * 1000 / audio_format::kSamplesPerMs;
    if (transit_count_ == 0) transit_origin_us_ = transit - kTransitBins * 2000 / 2;  // first packet mid-range
    const std::int64_t bin = (transit - transit_origin_us_) / 2000;
    ++transit_[static_cast<std::size_t>(std::clamp<std::int64_t>(bin, 0, kTransitBins - 1))];
    ++transit_count_;
    if (!hold_anchor_known_) {
      hold_anchor_known_ = true;
      first_transit_us_ = least_transit_us_ = transit;
    }
    least_transit_us_ = std::min(least_transit_us_, transit);
  }
  // A packet at or before one already played can no longer play in order.
  if (played_past(timestamp)) {
    ++stats_.late;
    return false;
  }
  JitterBufferPacket jp{};
  jp.len = p.size;
  jp.timestamp = timestamp;
  jp.span = p.samples;
  jp.sequence = p.header.sequence;
  // speexdsp keeps each packet's lead (how early it came, less the margin) in 16 bits and shifts
  // them all by every delay change; leads spread over more than 680 ms overflow, and its play
  // position lands inside a packet (found by fuzz_opus_path's log). So a packet that far behind
  // bypasses it, and one that far ahead means the stream jumped (after a device stall, say): the
  // buffer starts over there, and what it held joins the playout queue.
  // (Before the first packet plays, speexdsp records no timings, and packets may pile up while
  // the device starts.)
  bool far_behind = false, far_ahead = false;
  if (pointer_known_) {
    const std::int64_t lead = after(timestamp, pointer_) - std::int64_t{config_.margin_ms} * audio_format::kSamplesPerMs;
    far_behind = lead < -kMaxLead;
    far_ahead = lead > kMaxLead;
  }
  // One packet that far ahead may be a corrupt timestamp: it waits aside, and the next packet
  // decides. Right after it, the stream has jumped: speexdsp starts over from it, and what the
  // buffer held is queued (on_destroy). Anything else: it was a stray, dropped.
  if (jump_slot_ >= 0) {
    Slot& aside = slots_[jump_slot_];
    jump_slot_ = -1;
    if (static_cast<std::uint32_t>(timestamp - aside.packet.header.timestamp) - 1 < 3u * static_cast<std::uint32_t>(step_)) {
      jitter_buffer_reset(jb_);  // not resetting_: what it held is queued by on_destroy
      pointer_known_ = far_ahead = false;
      ++stats_.resyncs;
      JitterBufferPacket first{};
      first.len = aside.packet.size;
      first.timestamp = aside.packet.header.timestamp;
      first.span = aside.packet.samples;
      first.sequence = aside.packet.header.sequence;
      first.data = reinterpret_cast<char*>(&aside);
      aside.where = Where::buffer;
      jitter_buffer_put(jb_, &first);
    } else {
      ++stats_.stale;
      release(aside.index);
    }
  }
  if (kPoolSize - free_count_ >= pool_limit()) {
    ++stats_.pool_full;
    return false;
  }
  // A second packet for the same time (WebSocket never duplicates; a sender might) would leave
  // speexdsp holding one behind its play position.
  if (held_with_timestamp(timestamp) != nullptr) {
    ++stats_.duplicate;
    return false;
  }
  Slot& slot = slots_[free_[--free_count_]];
  slot.packet = p;
  if (far_ahead) {
    slot.where = Where::aside;
    jump_slot_ = slot.index;
    return true;
  }
  if (after(timestamp, newest_) > 0) newest_ = timestamp;
  // Already past speexdsp's play position: its time was concealed, but nothing after it has
  // played, so it plays next and the talk catches up. speexdsp still sees its timing (a marker, no
  // slot) unless it is too far behind for its counters, because late arrivals are what make it
  // raise its delay.
  if (pointer_known_ && after(timestamp + p.samples, pointer_) <= 0) {
    ++stats_.late_played;
    if (!far_behind) {
      jp.data = reinterpret_cast<char*>(&late_marker_);
      jitter_buffer_put(jb_, &jp);
    }
    enqueue(slot);
    return true;
  }
  slot.where = Where::buffer;
  jp.data = reinterpret_cast<char*>(&slot);
  jitter_buffer_put(jb_, &jp);
  return true;
}

JitterStage::Slot* JitterStage::held_with_timestamp(std::uint32_t timestamp) noexcept {
  for (auto& s : slots_)
    if (s.where != Where::free && s.where != Where::gone && s.packet.header.timestamp == timestamp) return &s;
  return nullptr;
}

// The first packet is held for the start delay counted from when it was due by the earliest
// packet seen (least transit), not from its own arrival: packets come in bursts (a browser sends
// what each audio callback made at once), and a first packet that came late in its burst would add
// its lateness to the whole talk. Timestamps only move the start earlier, never past the delay.
int JitterStage::hold_samples() const noexcept {
  const std::int64_t full = static_cast<std::int64_t>(start_delay_ms_) * audio_format::kSamplesPerMs;
  if (!hold_anchor_known_) return static_cast<int>(full);
  const std::int64_t early = (first_transit_us_ - least_transit_us_) * audio_format::kSamplesPerMs / 1000;
  return static_cast<int>(std::clamp<std::int64_t>(full - early, 0, full));
}

JitterStage::Step JitterStage::pull(float* out) noexcept {
  Step step;
  const int n = step_;
  step.samples = n;
  if (talk_id_ == 0) {
    std::fill_n(out, n, 0.0f);
    return step;  // idle
  }
  if (draining_ && ((free_count_ == kPoolSize && pcm_size_ == 0) || drain_samples_ > 500 * audio_format::kSamplesPerMs)) {
    // Everything of the talk is played (or 500 ms of draining found nothing more to play).
    learn_jitter();
    stats_.discarded += static_cast<std::uint64_t>(reset_buffer());  // what 500 ms never reached
    talk_id_ = 0;
    std::fill_n(out, n, 0.0f);
    return step;
  }

  // speexdsp plays a talk's first packet at once and only then grows its delay to cover the margin
  // and the jitter it measures, by inserting concealment mid-word. Holding the first packet back
  // for the margin plus the jitter of earlier talks starts the talk with that delay instead.
  if (!started_playing_ && free_count_ < kPoolSize && held_samples_ < hold_samples() && !draining_) {
    held_samples_ += n;
    std::fill_n(out, n, 0.0f);
    step.kind = Step::silence;
    return step;
  }

  // One step of speexdsp's clock: the packet due now joins the queue (after any it dropped to cut
  // its delay, which on_destroy queued), or a gap marks its place.
  JitterBufferPacket jp{};
  spx_int32_t offset = 0;
  const int status = jitter_buffer_get(jb_, &jp, n, &offset);
  jitter_buffer_tick(jb_);
  // (A late marker is never returned: it lies wholly behind the play position.)
  if (status == JITTER_BUFFER_OK && reinterpret_cast<Slot*>(jp.data) != &late_marker_) {
    auto* slot = reinterpret_cast<Slot*>(jp.data);
    pointer_known_ = started_playing_ = true;
    if (slot->where == Where::gone) {  // already queued by rescue_behind_pointer
      release(slot->index);
    } else if (played_past(slot->packet.header.timestamp)) {
      ++stats_.late;
      release(slot->index);
    } else {
      enqueue(*slot);
    }
  } else {
    if (status == JITTER_BUFFER_MISSING && started_playing_) enqueue_gap(jp.timestamp);
  }
  // speexdsp's own play position, as the tick left it (it moves it to change its delay): a packet
  // behind it can no longer go in, and joins the queue instead (see put).
  pointer_ = static_cast<std::uint32_t>(jitter_buffer_get_pointer_timestamp(jb_));
  rescue_behind_pointer();
  if (!started_playing_ && queue_size_ == 0 && pcm_size_ == 0) {
    if (draining_) drain_samples_ += n;
    std::fill_n(out, n, 0.0f);
    step.kind = Step::silence;
    return step;
  }
  started_playing_ = true;

  catch_up();
  // Draining with nothing left to come (the talk's end arrived after its last packet): the last
  // partial step is padded with silence, not concealment, and the talk ends.
  const bool nothing_more = draining_ && free_count_ == kPoolSize;
  while (pcm_size_ < n) {
    if (nothing_more && pcm_size_ > 0) {
      static constexpr std::array<float, kMaxStep> kSilence{};
      append(kSilence.data(), n - pcm_size_, Step::silence, nullptr);
      break;
    }
    decode_next();
  }
  const Chunk first = chunk_count_ > 0 ? chunks_[0] : Chunk{n, Step::plc, 0, {}, {}};
  std::copy_n(pcm_.data(), n, out);
  consume(n);
  step.kind = first.kind;
  if (first.kind == Step::played) {
    step.timestamp = first.timestamp;
    step.capture = first.capture;
    step.arrival = first.arrival;
  }
  return step;
}

}  // namespace ptt::server
