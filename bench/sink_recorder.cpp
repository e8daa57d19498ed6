// Records a PulseAudio source (the mouth-to-ear bench's null-sink monitor) to raw float32 and says
// when, on the wall clock, its first sample was recorded, so the bench can set the clicks it finds
// in the recording beside the page's and the server's own timestamps. After each read PulseAudio's
// record latency dates the next unread sample; scheduling only makes a read return late, so the
// earliest of those datings is the truest.
// Usage: sink_recorder <source> <channels> <out.raw>   (stops on SIGINT or SIGTERM)
#include <pulse/error.h>
#include <pulse/simple.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "ptt/audio_format.hpp"

namespace {
std::atomic<bool> stop{false};
void on_signal(int) { stop = true; }
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <source> <channels> <out.raw>\n", argv[0]);
    return 2;
  }
  constexpr std::uint32_t kRate = ptt::audio_format::kSampleRate;
  constexpr std::uint32_t kChunk = kRate / 200;  // 5 ms per read
  const auto channels = static_cast<std::uint8_t>(std::atoi(argv[2]));
  std::FILE* out = std::fopen(argv[3], "wb");
  if (!out || channels < 1 || channels > 8) {
    std::fprintf(stderr, "sink_recorder: bad arguments\n");
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  const pa_sample_spec spec{PA_SAMPLE_FLOAT32LE, kRate, channels};
  pa_buffer_attr attr{};
  attr.maxlength = static_cast<std::uint32_t>(-1);
  attr.fragsize = kChunk * channels * sizeof(float);
  int err = 0;
  pa_simple* s = pa_simple_new(nullptr, "ptt-bench", PA_STREAM_RECORD, argv[1], "sink clock", &spec, nullptr, &attr, &err);
  if (!s) {
    std::fprintf(stderr, "sink_recorder: %s\n", pa_strerror(err));
    return 1;
  }
  std::vector<float> buf(std::size_t{kChunk} * channels);
  std::uint64_t frames = 0;
  std::vector<long long> datings;
  while (!stop) {
    if (pa_simple_read(s, buf.data(), buf.size() * sizeof(float), &err) < 0) {
      std::fprintf(stderr, "sink_recorder: %s\n", pa_strerror(err));
      break;
    }
    std::fwrite(buf.data(), sizeof(float), buf.size(), out);
    frames += kChunk;
    const pa_usec_t latency = pa_simple_get_latency(s, &err);
    const long long now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    const long long dated = now_us - static_cast<long long>(latency) - static_cast<long long>(frames * 1000000 / kRate);
    datings.push_back(dated);
  }
  pa_simple_free(s);
  std::fclose(out);
  if (datings.empty()) return 1;
  std::sort(datings.begin(), datings.end());
  // The median and the spread say how far scheduling moved the datings (the bench prints them).
  std::printf("first_sample_wall_us=%lld median_us=%lld p90_us=%lld frames=%llu\n", datings.front(),
              datings[datings.size() / 2], datings[datings.size() * 9 / 10], static_cast<unsigned long long>(frames));
  return 0;
}
