// libFuzzer target: the server's Opus packet path. The input is a sequence of network frames
// (2-byte big-endian length, then the frame); those that pass validation go, as the room hands them
// on, to the audio thread's jitter stage (speexdsp + Opus decode, FEC, PLC) and, through the talk
// timeline guard as in the server, to the recording writer (Ogg Opus), with the playout pulled
// between frames. The jitter stage gets every valid frame, more than the guard lets through in the
// server, so its own defences stay fuzzed. Each frame's arrival is 0 to 99 ms after the one before
// (from its capture time field). Every sample played must be finite and within [-1, 1], and what
// the guard admits must lie within the talk's elapsed time plus the slack.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "jitter_stage.hpp"
#include "ogg_opus_writer.hpp"
#include "ptt/protocol.hpp"
#include "talk_timeline.hpp"

namespace proto = ptt::protocol;
using ptt::server::AudioPacket;
using ptt::server::JitterStage;
using ptt::server::TalkTimeline;

namespace {
void check(const std::array<float, JitterStage::kMaxStep>& pcm) {
  for (float v : pcm)
    if (!std::isfinite(v) || std::fabs(v) > 1.0f) {
      std::fprintf(stderr, "played sample out of range: %g\n", static_cast<double>(v));
      __builtin_trap();
    }
}

// The bound, computed apart from the guard: 1.001 times the elapsed time (at most the default
// max_talk of 120 s) plus 1 s, in samples.
std::int64_t bound(std::int64_t elapsed_us) {
  const std::int64_t samples = std::min<std::int64_t>(elapsed_us, 120'000'000) * 48 / 1000;
  return samples + samples / 1000 + 48000;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static JitterStage stage;  // one stage, as the server has: talks follow one another
  static std::uint32_t talk = 0;
  stage.start_talk(++talk);
  const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ptt::server::OggOpusWriter writer(fd, {}, talk);
  TalkTimeline guard;
  const ptt::server::TimePoint start{};
  std::int64_t elapsed_us = 0, admitted = 0;
  bool anchored = false;
  std::uint32_t anchor = 0;
  guard.start(talk, start);
  std::array<float, JitterStage::kMaxStep> pcm{};
  std::size_t at = 0;
  while (at + 2 <= size) {
    const std::size_t n = (std::size_t{data[at]} << 8) | data[at + 1];
    at += 2;
    if (n > size - at) break;
    proto::AudioFrameView frame;
    if (proto::decode_audio_frame(data + at, n, frame) == proto::ErrorCode::ok) {
      elapsed_us += static_cast<std::int64_t>(frame.header.capture_time_us % 100'000);
      // The packet as the room builds it on arrival.
      AudioPacket p = ptt::server::audio_packet(frame, 1, start + std::chrono::microseconds(elapsed_us));
      p.header.talk_id = talk;  // the room drops frames of other talks before they get here
      stage.put(p);
      if (guard.admit(talk, p.header.timestamp, p.samples, p.arrival) == TalkTimeline::Verdict::accepted) {
        if (!anchored) {
          anchored = true;
          anchor = frame.header.timestamp;
        }
        const std::int64_t end = static_cast<std::int32_t>(frame.header.timestamp - anchor) + std::int64_t{frame.samples};
        admitted += frame.samples;
        if (end < frame.samples || end > bound(elapsed_us) || admitted > bound(elapsed_us)) {
          std::fprintf(stderr, "admitted past the talk's time: ends at %lld, %lld in all, %lld us in\n",
                       static_cast<long long>(end), static_cast<long long>(admitted), static_cast<long long>(elapsed_us));
          __builtin_trap();
        }
        writer.write(p.opus.data(), p.size, p.samples);
      }
    }
    at += n;
    stage.pull(pcm.data());
    check(pcm);
  }
  stage.end_talk(talk);
  guard.end(talk);
  for (int i = 0; i < 120 && stage.active(); ++i) {  // 500 ms of draining is 50 steps of 10 ms
    stage.pull(pcm.data());
    check(pcm);
  }
  writer.finish();
  return 0;
}
