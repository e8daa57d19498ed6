#include "ptt/capture_pipeline.hpp"

#include <algorithm>

namespace ptt {
namespace {

namespace af = audio_format;

// speexdsp's preprocessor delays its output by one of its frames: 5 ms frames, two per sub-frame,
// cost 5 ms where 10 ms ones cost 10, for no measured loss of quality (bench/capture_bench.cpp).
constexpr int kPreprocessSamples = af::kSubframeSamples / 2;
static_assert(af::kSubframeSamples % kPreprocessSamples == 0);

PreprocessorConfig preprocessor_config(const CaptureConfig& c) {
  PreprocessorConfig p;
  p.frame_samples = kPreprocessSamples;
  p.denoise = c.denoise;
  p.agc_max_gain_db = c.agc_max_gain_db;
  return p;
}

// Samples per packet for frame_ms, or 0 unless whole sub-frames fill it and frame_ holds it.
int packet_samples(int frame_ms) noexcept {
  const long samples = static_cast<long>(frame_ms) * af::kSamplesPerMs;
  if (samples <= 0 || samples > af::kFrameSamples || samples % af::kSubframeSamples != 0) return 0;
  return static_cast<int>(samples);
}

}  // namespace

CapturePipeline::CapturePipeline(const CaptureConfig& config) noexcept
    : config_(config),
      frame_samples_(packet_samples(config.encoder.frame_ms)),
      encoder_(config.encoder),
      preprocessor_(preprocessor_config(config)),
      preroll_limit_(frame_samples_ == 0 ? 0
                                         : std::min<std::size_t>(kMaxPreroll, static_cast<std::size_t>(
                                               std::max(config.preroll_ms, config.encoder.frame_ms) /
                                               config.encoder.frame_ms))) {
  // The packets' timestamps advance by frame_samples_: the encoder must code exactly that many.
  if (encoder_.ok() && encoder_.frame_samples() != frame_samples_) frame_samples_ = 0;
}

void CapturePipeline::push(const float* samples, std::size_t n, std::uint64_t capture_us) noexcept {
  if (!ok()) return;  // a refused configuration runs nothing, rather than mis-framing the audio
  // Capture time of the first sample still waiting in the assembler.
  next_capture_us_ = capture_us - af::samples_to_us(subframes_.buffered());
  subframes_.push(samples, n, [&](const float* x) {
    const std::uint64_t t = next_capture_us_;
    next_capture_us_ += af::samples_to_us(af::kSubframeSamples);
    subframe(x, t);
  });
}

void CapturePipeline::subframe(const float* x, std::uint64_t capture_us) noexcept {
  std::copy_n(x, af::kSubframeSamples, scratch_.begin());
  for (int i = 0; i < af::kSubframeSamples; i += kPreprocessSamples) preprocessor_.process(scratch_.data() + i);
  // The preprocessor's output lags its input by one of its frames.
  capture_us -= af::samples_to_us(static_cast<std::uint64_t>(preprocessor_.delay_samples()));
  const bool speech = vad_.process(scratch_.data(), af::kSubframeSamples);
  meter_.process(scratch_.data(), af::kSubframeSamples);
  silent_subframes_ = speech ? 0 : silent_subframes_ + 1;
  if (frame_fill_ == 0) {
    frame_capture_us_ = capture_us;
    frame_speech_ = false;
  }
  std::copy_n(scratch_.begin(), af::kSubframeSamples, frame_.begin() + frame_fill_);
  frame_fill_ += af::kSubframeSamples;
  frame_speech_ |= speech;
  if (frame_fill_ == frame_samples_) {
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
    timestamp_ += static_cast<std::uint32_t>(frame_samples_);
    return;
  }
  if (has_held_) {  // the packet just before speech resumed carries its onset
    emit(held_, timestamp_ - static_cast<std::uint32_t>(frame_samples_));
    has_held_ = false;
  }
  emit(e, timestamp_);
  timestamp_ += static_cast<std::uint32_t>(frame_samples_);
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
  if (state_ != State::idle || !ok()) return;
  state_ = State::requesting;
  preprocessor_.restore_agc_gain();
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
    timestamp_ += static_cast<std::uint32_t>(frame_samples_);
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
