#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "ptt/frame_assembler.hpp"

namespace {

// Feeds a ramp 0,1,2,... in chunks of the given sizes and returns the frames produced.
std::vector<std::vector<float>> feed(std::size_t frame, const std::vector<std::size_t>& chunks) {
  ptt::FrameAssembler a(frame);
  std::vector<std::vector<float>> frames;
  float next = 0;
  for (std::size_t n : chunks) {
    std::vector<float> chunk(n);
    std::iota(chunk.begin(), chunk.end(), next);
    next += static_cast<float>(n);
    a.push(chunk.data(), n, [&](const float* f) { frames.emplace_back(f, f + frame); });
  }
  return frames;
}

void expect_ramp(const std::vector<std::vector<float>>& frames, std::size_t frame) {
  float expected = 0;
  for (const auto& f : frames) {
    ASSERT_EQ(f.size(), frame);
    for (float v : f) ASSERT_EQ(v, expected++);
  }
}

}  // namespace

TEST(FrameAssembler, WorkletQuantaMake20msFrames) {
  // 960 is 7.5 quanta of 128: frames complete in the middle of a quantum.
  const auto frames = feed(960, std::vector<std::size_t>(75, 128));
  EXPECT_EQ(frames.size(), 10u);
  expect_ramp(frames, 960);
}

TEST(FrameAssembler, WorkletQuantaMake10msFrames) {
  const auto frames = feed(480, std::vector<std::size_t>(15, 128));
  EXPECT_EQ(frames.size(), 4u);
  expect_ramp(frames, 480);
}

TEST(FrameAssembler, OddChunkSizesKeepOrderAndLoseNothing) {
  const std::vector<std::size_t> chunks = {1, 127, 333, 961, 0, 2, 959, 1920, 7};
  const auto frames = feed(960, chunks);
  EXPECT_EQ(frames.size(), 4310u / 960u);
  expect_ramp(frames, 960);
}

TEST(FrameAssembler, OneChunkCanCompleteSeveralFrames) {
  const auto frames = feed(480, {480 * 5 + 17});
  EXPECT_EQ(frames.size(), 5u);
  expect_ramp(frames, 480);
}

TEST(FrameAssembler, RemainderIsBufferedAndResetDropsIt) {
  ptt::FrameAssembler a(960);
  std::vector<float> chunk(1000, 1.0f);
  int frames = 0;
  a.push(chunk.data(), chunk.size(), [&](const float*) { ++frames; });
  EXPECT_EQ(frames, 1);
  EXPECT_EQ(a.buffered(), 40u);
  a.reset();
  EXPECT_EQ(a.buffered(), 0u);
  a.push(chunk.data(), 959, [&](const float*) { ++frames; });
  EXPECT_EQ(frames, 1);
}

TEST(FrameAssembler, FrameSizeIsClampedToItsBuffer) {
  EXPECT_EQ(ptt::FrameAssembler(0).frame_samples(), 1u);
  EXPECT_EQ(ptt::FrameAssembler(100000).frame_samples(), ptt::FrameAssembler::kMaxFrame);
}
