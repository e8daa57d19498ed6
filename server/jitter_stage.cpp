#include "jitter_stage.hpp"

#include <speex/speex_jitter.h>

#include <algorithm>
#include <cstring>

namespace ptt::server {

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
  spx_int32_t margin = config.margin_ms * 48, late = std::max(1, config.max_late_rate),
              step = std::max(1, config.delay_step_ms) * 48;
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_MARGIN, &margin);
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_MAX_LATE_RATE, &late);
  jitter_buffer_ctl(jb_, JITTER_BUFFER_SET_DELAY_STEP, &step);
}

JitterStage::~JitterStage() {
  jitter_buffer_reset(jb_);
  jitter_buffer_destroy(jb_);
}

void JitterStage::on_destroy(void* p) noexcept {
  auto* slot = static_cast<Slot*>(p);
  slot->owner->release(slot->index);
}

void JitterStage::release(int index) noexcept {
  if (index < 0 || !slots_[index].held) return;
  slots_[index].held = false;
  free_[free_count_++] = index;
}

void JitterStage::reset_buffer() noexcept {
  jitter_buffer_reset(jb_);  // hands every stored packet back through on_destroy
  // A packet the buffer judged hopelessly late was neither stored nor destroyed: reclaim it now.
  for (int i = 0; i < kPoolSize; ++i) release(i);
  decoder_.reset();
  started_playing_ = pointer_known_ = draining_ = false;
  drain_steps_ = 0;
}

void JitterStage::start_talk(std::uint32_t talk_id) noexcept {
  reset_buffer();
  talk_id_ = talk_id;
  ++stats_.talks;
}

void JitterStage::end_talk(std::uint32_t talk_id) noexcept {
  if (talk_id == talk_id_) draining_ = true;
}

bool JitterStage::put(const JitterPacket& p) noexcept {
  if (p.talk_id != talk_id_ || talk_id_ == 0) return false;
  if (p.samples != kStep) {
    ++stats_.wrong_span;
    return false;
  }
  JitterBufferPacket jp{};
  jp.len = p.size;
  jp.timestamp = p.timestamp;
  jp.span = p.samples;
  jp.sequence = p.sequence;
  // Already past the play position: it can no longer be played, but the buffer must still see it,
  // because late arrivals are what make it raise its delay. A marker goes in instead of a slot.
  if (pointer_known_ && static_cast<std::int32_t>(p.timestamp + p.samples - pointer_) <= 0) {
    ++stats_.late;
    jp.data = reinterpret_cast<char*>(&late_marker_);
    jitter_buffer_put(jb_, &jp);
    return false;
  }
  if (free_count_ == 0) {
    ++stats_.pool_full;
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
    if (s.held && s.packet.timestamp == timestamp) return &s;
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
    reset_buffer();
    talk_id_ = 0;
    std::fill_n(out, kStep, 0.0f);
    return step;
  }

  JitterBufferPacket jp{};
  spx_int32_t offset = 0;
  const int status = jitter_buffer_get(jb_, &jp, kStep, &offset);
  jitter_buffer_tick(jb_);

  // (A late marker is never returned: it lies wholly behind the play position.)
  if (status == JITTER_BUFFER_OK && reinterpret_cast<Slot*>(jp.data) != &late_marker_) {
    auto* slot = reinterpret_cast<Slot*>(jp.data);
    const int n = decoder_.decode(slot->packet.data.data(), slot->packet.size, scratch_.data(), static_cast<int>(scratch_.size()));
    if (n == kStep) std::copy_n(scratch_.data(), kStep, out);
    else std::fill_n(out, kStep, 0.0f);
    step.kind = Step::played;
    step.timestamp = jp.timestamp;
    step.capture_us = slot->packet.capture_us;
    step.arrival_us = slot->packet.arrival_us;
    pointer_ = jp.timestamp + jp.span;
    pointer_known_ = started_playing_ = true;
    drain_steps_ = 0;
    release(slot->index);
    ++stats_.played;
    return step;
  }

  // MISSING or INSERTION: nothing to play for this step.
  const std::uint32_t missing = jp.timestamp;
  if (pointer_known_) pointer_ = jp.timestamp + static_cast<std::uint32_t>(std::max<spx_int32_t>(jp.span, 0));
  if (!started_playing_) {
    std::fill_n(out, kStep, 0.0f);
    step.kind = Step::silence;
    return step;
  }
  // The next packet may carry this one in its FEC data.
  if (Slot* next = status == JITTER_BUFFER_MISSING ? held_with_timestamp(missing + kStep) : nullptr;
      next && decoder_.decode_fec(next->packet.data.data(), next->packet.size, out, kStep) == kStep) {
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
