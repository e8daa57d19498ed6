// Turns the AudioWorklet's render quanta (128 samples, though the spec lets that change) into codec
// frames of a fixed size, without allocating after construction.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>

#include "ptt/audio_format.hpp"

namespace ptt {

class FrameAssembler {
 public:
  static constexpr std::size_t kMaxFrame = audio_format::kMaxPacketSamples;

  explicit FrameAssembler(std::size_t frame_samples) noexcept
      : frame_(std::min(std::max<std::size_t>(frame_samples, 1), kMaxFrame)) {}

  std::size_t frame_samples() const noexcept { return frame_; }
  std::size_t buffered() const noexcept { return fill_; }
  void reset() noexcept { fill_ = 0; }

  // Appends n samples; calls on_frame(const float* frame) once for every frame completed, in order.
  template <typename OnFrame>
  void push(const float* samples, std::size_t n, OnFrame&& on_frame) {
    while (n > 0) {
      const std::size_t take = std::min(n, frame_ - fill_);
      std::copy_n(samples, take, buffer_.begin() + fill_);
      fill_ += take;
      samples += take;
      n -= take;
      if (fill_ == frame_) {
        fill_ = 0;
        on_frame(static_cast<const float*>(buffer_.data()));
      }
    }
  }

 private:
  std::size_t frame_;
  std::size_t fill_ = 0;
  std::array<float, kMaxFrame> buffer_{};
};

}  // namespace ptt
