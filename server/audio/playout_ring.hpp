// Turns the jitter stage's 10 or 20 ms steps into device buffers of any size, on the audio thread (no
// locks, no allocation). While the stage waits for a talk's first packet to fall due, silence is
// taken one device buffer at a time, so the talk starts within a buffer (5 ms) of when it is due.
// Taking silence a whole step at a time would start it at the next step boundary instead, adding
// up to a step (half of one on average) to every packet of the talk.
#pragma once

#include <array>
#include <cstddef>

#include "jitter_stage.hpp"

namespace ptt::server {

class PlayoutRing {
 public:
  static constexpr std::size_t kCapacity = 4096;
  static constexpr std::size_t kMaxFrames = kCapacity - JitterStage::kMaxStep;

  // Writes `frames` (at most kMaxFrames) mono samples to out. For each step pulled from the stage,
  // calls on_step(step, queued, pcm): queued is how many samples play before the step's first one;
  // pcm is the step's step.samples samples, which on_step may change before they are queued.
  template <typename OnStep>
  void fill(JitterStage& stage, float* out, std::size_t frames, OnStep&& on_step) noexcept {
    while (count_ < frames) {
      if (stage.waiting()) {
        const std::size_t n = frames - count_;
        for (std::size_t i = 0; i < n; ++i) push(0.0f);
        stage.wait(static_cast<int>(n));
        break;
      }
      std::array<float, JitterStage::kMaxStep> pcm;
      const auto step = stage.pull(pcm.data());
      on_step(step, count_, pcm.data());
      for (int i = 0; i < step.samples; ++i) push(pcm[static_cast<std::size_t>(i)]);
    }
    for (std::size_t i = 0; i < frames; ++i) {
      out[i] = ring_[read_];
      read_ = (read_ + 1) % kCapacity;
    }
    count_ -= frames;
  }

  std::size_t queued() const noexcept { return count_; }

 private:
  void push(float v) noexcept { ring_[(read_ + count_++) % kCapacity] = v; }

  std::array<float, kCapacity> ring_{};
  std::size_t read_ = 0, count_ = 0;
};

}  // namespace ptt::server
