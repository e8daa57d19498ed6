// libFuzzer target: the server's Opus packet path. The input is a sequence of network frames
// (2-byte big-endian length, then the frame); those that pass validation go, as the room hands them
// on, to the audio thread's jitter stage (speexdsp + Opus decode, FEC, PLC) and to the recording
// writer (Ogg Opus), with the playout pulled between frames. Every sample played must be finite
// and within [-1, 1].
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "jitter_stage.hpp"
#include "ogg_opus_writer.hpp"
#include "ptt/protocol.hpp"

namespace proto = ptt::protocol;
using ptt::server::JitterPacket;
using ptt::server::JitterStage;

namespace {
void check(const std::array<float, JitterStage::kStep>& pcm) {
  for (float v : pcm)
    if (!std::isfinite(v) || std::fabs(v) > 1.0f) {
      std::fprintf(stderr, "played sample out of range: %g\n", static_cast<double>(v));
      __builtin_trap();
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static JitterStage stage;  // one stage, as the server has: talks follow one another
  static std::uint32_t talk = 0;
  stage.start_talk(++talk);
  const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ptt::server::OggOpusWriter writer(fd, {}, talk);
  std::array<float, JitterStage::kStep> pcm{};
  std::size_t at = 0;
  while (at + 2 <= size) {
    const std::size_t n = (std::size_t{data[at]} << 8) | data[at + 1];
    at += 2;
    if (n > size - at) break;
    proto::AudioFrameView frame;
    if (proto::decode_audio_frame(data + at, n, frame) == proto::ErrorCode::ok) {
      JitterPacket p;
      p.talk_id = talk;  // the room drops frames of other talks before they get here
      p.timestamp = frame.header.timestamp;
      p.samples = frame.samples;
      p.sequence = frame.header.sequence;
      p.size = static_cast<std::uint16_t>(frame.opus_size);
      std::memcpy(p.data.data(), frame.opus, frame.opus_size);
      stage.put(p);
      writer.write(frame.opus, frame.opus_size, frame.samples);
    }
    at += n;
    stage.pull(pcm.data());
    check(pcm);
  }
  stage.end_talk(talk);
  for (int i = 0; i < 30 && stage.active(); ++i) {
    stage.pull(pcm.data());
    check(pcm);
  }
  writer.finish();
  return 0;
}
