#include "ptt/capture_pipeline.hpp"

#include <algorithm>

namespace ptt {
namespace {
PreprocessorConfig preprocessor_config(const CaptureConfig& c) {
  PreprocessorConfig p;
  p.frame_samples = 480;  // 10 ms: speexdsp delays by one frame, so short frames keep latency down
  p.denoise = c.denoise;
  p.agc_max_gain_db = c.agc_max_gain_db;
  return p;
}
}  // namespace

CapturePipeline::CapturePipeline(const CaptureConfig& config) noexcept
    : config_(config),
      encoder_(config.encoder),
      preprocessor_(preprocessor_config(config)),
      preroll_limit_(std::min<std::size_t>(kMaxPreroll, static_cast<std::size_t>(std::max(config.preroll_ms, 20) / 20))) {}

void CapturePipeline::push(const float* samples, std::size_t n, std::uint64_t capture_us) noexcept {
  // Capture time of the first sample still waiting in the assembler.
  next_capture_us_ = capture_us - static_cast<std::uint64_t>(subframes_.buffered()) * 1000000 / 48000;
  subframes_.push(samples, n, [&](const float* x) {
    const std::uint64_t t = next_capture_us_;
    next_capture_us_ += 10000;
    subframe(x, t);
  });
}

void CapturePipeline::subframe(const float* x, std::uint64_t capture_us) noexcept {
  std::copy_n(x, 480, scratch_.begin());
  preprocessor_.process(scratch_.data());
  // The preprocessor's output lags its input by one 10 ms frame.
  capture_us -= 10000;
  const bool speech = vad_.process(scratch_.data(), 480);
  meter_.process(scratch_.data(), 480);
  silent_subframes_ = speech ? 0 : silent_subframes_ + 1;
  if (frame_fill_ == 0) {
    frame_capture_us_ = capture_us;
    frame_speech_ = false;
  }
  std::copy_n(scratch_.begin(), 480, frame_.begin() + frame_fill_);
  frame_fill_ += 480;
  frame_speech_ |= speech;
  if (frame_fill_ == 960) {
    frame_fill_ = 0;
    frame(frame_.data(), frame_speech_, frame_capture_us_);
  }
}

void CapturePipeline::frame(const float* x, bool speech, std::uint64_t capture_us) noexcept {
  if (state_ == State::idle) return;
  Encoded e;
  const int n = encoder_.encode(x, e.opus.data(), e.opus.size());
  if (n <= 0) return;
  e.size = static_cast<std::uint16_t>(n);
  e.speech = speech;
  e.capture_us = capture_us;
  if (state_ == State::requesting) {
    if (preroll_count_ == preroll_limit_) {  // keep the newest second
      preroll_start_ = (preroll_start_ + 1) % kMaxPreroll;
      --preroll_count_;
      ++dropped_;
    }
    preroll_[(preroll_start_ + preroll_count_++) % kMaxPreroll] = e;
    return;
  }
  // live
  if (!speech && !config_.send_silence && !first_packet_) {
    if (has_held_) ++skipped_;
    held_ = e;
    has_held_ = true;
    timestamp_ += 960;
    return;
  }
  if (has_held_) {  // the packet just before speech resumed carries its onset
    emit(held_, timestamp_ - 960);
    has_held_ = false;
  }
  emit(e, timestamp_);
  timestamp_ += 960;
}

void CapturePipeline::emit(const Encoded& e, std::uint32_t timestamp) noexcept {
  if (ready_count_ == kMaxReady) {
    ++dropped_;
    return;
  }
  protocol::AudioHeader h;
  h.flags = static_cast<std::uint8_t>((first_packet_ ? protocol::audio_flags::kTalkStart : 0) |
                                      (e.speech ? protocol::audio_flags::kSpeech : 0));
  h.sequence = sequence_++;
  h.talk_id = talk_id_;
  h.timestamp = timestamp;
  h.capture_time_us = e.capture_us;
  Ready& r = ready_[ready_count_];
  r.size = protocol::encode_audio_frame(h, e.opus.data(), e.size, r.bytes.data(), r.bytes.size());
  if (r.size == 0) return;
  ++ready_count_;
  ++sent_;
  first_packet_ = false;
}

void CapturePipeline::press() noexcept {
  if (state_ != State::idle) return;
  state_ = State::requesting;
  // Each talk is its own Opus stream: the server starts every talk with a reset decoder.
  encoder_.reset();
  preroll_start_ = preroll_count_ = 0;
}

void CapturePipeline::grant(std::uint32_t talk_id) noexcept {
  if (state_ != State::requesting || talk_id == 0) return;
  state_ = State::live;
  talk_id_ = talk_id;
  timestamp_ = 0;
  sequence_ = 0;
  first_packet_ = true;
  has_held_ = false;
  // Everything said since the press goes out first, as one continuous stretch of the talk.
  for (std::size_t i = 0; i < preroll_count_; ++i) {
    Encoded& e = preroll_[(preroll_start_ + i) % kMaxPreroll];
    if (!e.speech && !config_.send_silence && !first_packet_ && i + 1 < preroll_count_ &&
        !preroll_[(preroll_start_ + i + 1) % kMaxPreroll].speech) {
      ++skipped_;
    } else {
      emit(e, timestamp_);
    }
    timestamp_ += 960;
  }
  preroll_count_ = 0;
}

void CapturePipeline::release() noexcept {
  state_ = State::idle;
  talk_id_ = 0;
  preroll_count_ = 0;
  has_held_ = false;
}

}  // namespace ptt
