#include "jitter_stage.hpp"

#include <speex/speex_jitter.h>

#include <algorithm>
#include <cstring>

namespace ptt::server {
namespace {

// Opus in-band FEC (LBRR) lives in SILK frames only: TOC configurations 0 to 15 (SILK-only and
// hybrid). A CELT-only packet (16 to 31) has none, and libopus asked to decode its FEC quietly
// conceals instead: that is PLC, and is counted so.
bool can_carry_fec(const AudioPacket& p) noexcept { return p.size > 0 && (p.opus[0] >> 3) < 16; }

}  // namespace

JitterStage::JitterStage(const JitterConfig& config) : config_(config) {
  for (int i = 0; i < kPoolSize; ++i) {
    slots_[i].owner = this;
    slots_[i].index = i;
    slots_[i].held = false;
    free_[i] = i;
  }
  free_count_ = kPoolSize;
  late_marker_.owner = this;
  late_marker_.index = -1;
  late_marker_.held = false;
  jb_ = jitter_buffer_init(kStep);
  // With a destroy callback the buffer stores our pointers instead of copying (and allocating).
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_DESTROY_CALLBACK, reinterpret_cast<void*>(&JitterStage::on_destroy));
  // Delay changes in whole packets: pull() plays whole packets, and with a smaller step speexdsp
  // moves its play position into the middle of one, loses count of what is buffered ("negative
  // buffering" on stderr) and drops or inserts audio it did not decide on.
  spx_int32_t margin = config.margin_ms * audio_format::kSamplesPerMs, late = std::max(1, config.max_late_rate), step = kStep;
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_MARGIN, &margin);
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_MAX_LATE_RATE, &late);
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_DELAY_STEP, &step);
  start_delay_ms_ = config.margin_ms;
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
  jitter_buffer_reset(jb_);
  jitter_buffer_destroy(jb_);
}

void JitterStage::on_destroy(void* p) noexcept {
  auto* slot = static_cast<Slot*>(p);
  if (slot->index >= 0 && slot->held && !slot->owner->resetting_) ++slot->owner->stats_.discarded;
  slot->owner->release(slot->index);
}

void JitterStage::release(int index) noexcept {
  if (index < 0 || !slots_[index].held) return;
  slots_[index].held = false;
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
  started_playing_ = pointer_known_ = draining_ = jump_pending_ = false;
  drain_steps_ = held_samples_ = 0;
  return held;
}

void JitterStage::start_talk(std::uint32_t talk_id) noexcept {
  if (talk_id_ != 0) learn_jitter();  // a talk cut short by the next one still teaches
  stats_.discarded += static_cast<std::uint64_t>(reset_buffer());
  talk_id_ = talk_id;
  talk_origin_known_ = false;
  ++stats_.talks;
}

void JitterStage::end_talk(std::uint32_t talk_id) noexcept {
  if (talk_id == talk_id_) draining_ = true;
}

bool JitterStage::put(const AudioPacket& p) noexcept {
  const std::uint32_t timestamp = p.header.timestamp;
  if (p.header.talk_id != talk_id_ || talk_id_ == 0) return false;
  if (p.samples != kStep) {
    ++stats_.wrong_span;
    return false;
  }
  // Senders step timestamps by whole packets from 0. A packet straddling two steps would make
  // speexdsp see negative buffering and write a warning to stderr for each one: a talker could
  // flood the professor's terminal (found by fuzz_opus_path). Across the 32-bit wrap the grid of 0
  // shifts (2^32 is no multiple of 960), so the spacing from the talk's first packet is checked
  // too; no real talk lasts the 24.8 hours to the wrap.
  if (timestamp % kStep != 0 || (talk_origin_known_ && static_cast<std::int32_t>(timestamp - talk_origin_) % kStep != 0)) {
    ++stats_.misaligned;
    return false;
  }
  if (!talk_origin_known_) {
    talk_origin_known_ = true;
    talk_origin_ = timestamp;
  }
  if (p.arrival != TimePoint{}) {
    // Transit = arrival - send time (timestamp), up to a constant: its spread is the jitter.
    const std::int64_t arrival_us =
        std::chrono::duration_cast<std::chrono::microseconds>(p.arrival.time_since_epoch()).count();
    const std::int64_t transit = arrival_us - static_cast<std::int64_t>(timestamp) * 1000 / audio_format::kSamplesPerMs;
    if (transit_count_ == 0) transit_origin_us_ = transit - kTransitBins * 2000 / 2;  // first packet mid-range
    const std::int64_t bin = (transit - transit_origin_us_) / 2000;
    ++transit_[static_cast<std::size_t>(std::clamp<std::int64_t>(bin, 0, kTransitBins - 1))];
    ++transit_count_;
  }
  JitterBufferPacket jp{};
  jp.len = p.size;
  jp.timestamp = timestamp;
  jp.span = p.samples;
  jp.sequence = p.header.sequence;
  // speexdsp keeps each packet's lead (how early it came, less the margin) in 16 bits and shifts
  // them all by every delay change; leads spread over more than 680 ms overflow, and its play
  // position lands inside a packet (found by fuzz_opus_path's log). Our client never sends such a
  // spread, so a packet that far behind is only counted late, and one that far ahead means the
  // stream jumped (after a device stall, say): start over there, dropping what is now stale.
  // (Before the first packet plays, speexdsp records no timings, and packets may pile up while
  // the device starts.)
  if (pointer_known_) {
    const std::int64_t lead = static_cast<std::int32_t>(timestamp - pointer_) - std::int64_t{config_.margin_ms} * audio_format::kSamplesPerMs;
    if (lead < -kMaxLead) {
      ++stats_.late;
      return false;
    }
    if (lead > kMaxLead) {
      // One packet that far ahead may be a corrupt timestamp; the next one after it confirms a jump.
      const bool confirmed = jump_pending_ && static_cast<std::uint32_t>(timestamp - jump_timestamp_) - 1 < 3u * kStep;
      if (!confirmed) {
        jump_pending_ = true;
        jump_timestamp_ = timestamp;
        ++stats_.stale;
        return false;
      }
      const bool draining = draining_;
      stats_.stale += static_cast<std::uint64_t>(reset_buffer());
      draining_ = draining;
      ++stats_.resyncs;
    }
  }
  // Already past the play position: it can no longer be played, but the buffer must still see it,
  // because late arrivals are what make it raise its delay. A marker goes in instead of a slot.
  if (pointer_known_ && static_cast<std::int32_t>(timestamp + p.samples - pointer_) <= 0) {
    ++stats_.late;
    jp.data = reinterpret_cast<char*>(&late_marker_);
    jitter_buffer_put(jb_, &jp);
    return false;
  }
  if (free_count_ == 0) {
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
  slot.held = true;
  slot.packet = p;
  jp.data = reinterpret_cast<char*>(&slot);
  jitter_buffer_put(jb_, &jp);
  return true;
}

JitterStage::Slot* JitterStage::held_with_timestamp(std::uint32_t timestamp) noexcept {
  for (auto& s : slots_)
    if (s.held && s.packet.header.timestamp == timestamp) return &s;
  return nullptr;
}

JitterStage::Step JitterStage::pull(float* out) noexcept {
  Step step;
  if (talk_id_ == 0) {
    std::fill_n(out, kStep, 0.0f);
    return step;  // idle
  }
  if (draining_ && (free_count_ == kPoolSize || drain_steps_ > 25)) {
    // Everything of the talk is played (or 500 ms of draining found nothing more to play).
    learn_jitter();
    stats_.discarded += static_cast<std::uint64_t>(reset_buffer());  // what 500 ms never reached
    talk_id_ = 0;
    std::fill_n(out, kStep, 0.0f);
    return step;
  }

  // speexdsp plays a talk's first packet at once and only then grows its delay to cover the margin
  // and the jitter it measures, by inserting concealment mid-word. Holding the first packet back
  // for the margin plus the jitter of earlier talks starts the talk with that delay instead.
  if (!started_playing_ && free_count_ < kPoolSize && held_samples_ < start_delay_ms_ * audio_format::kSamplesPerMs && !draining_) {
    held_samples_ += kStep;
    std::fill_n(out, kStep, 0.0f);
    step.kind = Step::silence;
    return step;
  }

  JitterBufferPacket jp{};
  spx_int32_t offset = 0;
  const int status = jitter_buffer_get(jb_, &jp, kStep, &offset);
  jitter_buffer_tick(jb_);

  // (A late marker is never returned: it lies wholly behind the play position.)
  if (status == JITTER_BUFFER_OK && reinterpret_cast<Slot*>(jp.data) != &late_marker_) {
    auto* slot = reinterpret_cast<Slot*>(jp.data);
    // Straight into the caller's buffer: put() let only 20 ms packets in, and one that decodes to
    // anything else (a longer one fails here: out holds one step) plays as silence.
    if (decoder_.decode(slot->packet.opus.data(), slot->packet.size, out, kStep) != kStep) std::fill_n(out, kStep, 0.0f);
    step.kind = Step::played;
    step.timestamp = jp.timestamp;
    step.capture = slot->packet.capture;
    step.arrival = slot->packet.arrival;
    pointer_ = jp.timestamp + jp.span;
    pointer_known_ = started_playing_ = true;
    drain_steps_ = 0;
    release(slot->index);
    ++stats_.played;
    return step;
  }

  // MISSING or INSERTION: nothing to play for this step.
  if (draining_) ++drain_steps_;
  const std::uint32_t missing = jp.timestamp;
  if (pointer_known_) pointer_ = jp.timestamp + static_cast<std::uint32_t>(std::max<spx_int32_t>(jp.span, 0));
  if (!started_playing_) {
    std::fill_n(out, kStep, 0.0f);
    step.kind = Step::silence;
    return step;
  }
  // The next packet may carry this one in its FEC data.
  if (Slot* next = status == JITTER_BUFFER_MISSING ? held_with_timestamp(missing + kStep) : nullptr;
      next && can_carry_fec(next->packet) &&
      decoder_.decode_fec(next->packet.opus.data(), next->packet.size, out, kStep) == kStep) {
    step.kind = Step::fec;
    ++stats_.fec;
    return step;
  }
  if (decoder_.conceal(out, kStep) != kStep) std::fill_n(out, kStep, 0.0f);
  step.kind = Step::plc;
  ++stats_.plc;
  return step;
}

}  // namespace ptt::server
