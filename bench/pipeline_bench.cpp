// The server's audio pipeline under simulated network jitter: the delay it adds between a packet's
// arrival and its playout, and the CPU it costs per live talker. Run: build/native/bench/pipeline_bench
//
// Delay: packets of espeak-ng speech (20 ms Opus) arrive with uniform random jitter of 0, 20 and 60 ms
// (and 2 % loss); the playout ring (server/audio/playout_ring.hpp) is filled in 5 ms device buffers of
// simulated time, as the PortAudio callback fills it. Added delay = playout time - arrival time of
// each played packet (the device's own output
// latency, 10 ms through PulseAudio here, comes on top). Several seeds; median and p99 over all packets.
// CPU: the real stages on a minute of speech as fast as they run, against plain Opus decoding of the
// same packets in the same process (the baseline).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "bench_common.hpp"
#include "jitter_stage.hpp"
#include "playout_ring.hpp"
#include "ptt/audio_format.hpp"
#include "ptt/codec.hpp"
#include "ptt/server/vocabulary.hpp"
#include "recorder.hpp"
#include "echo_canceller.hpp"
#include "ringing.hpp"

namespace {

using namespace ptt::server;
using ptt::bench::load_speech;
using ptt::bench::quantile;
constexpr int kStep = JitterStage::kMaxStep;  // 20 ms packets

std::vector<AudioPacket> encode(const std::vector<float>& pcm, std::size_t repeat) {
  ptt::codec::Encoder enc;
  std::vector<AudioPacket> out;
  for (std::size_t r = 0; r < repeat; ++r)
    for (std::size_t off = 0; off + kStep <= pcm.size(); off += kStep) {
      AudioPacket p;
      p.header.talk_id = 1;
      p.header.timestamp = static_cast<std::uint32_t>(out.size() * kStep);
      p.samples = kStep;
      p.header.sequence = static_cast<std::uint16_t>(out.size());
      p.size = static_cast<std::uint16_t>(enc.encode(pcm.data() + off, p.opus.data(), p.opus.size()));
      out.push_back(p);
    }
  return out;
}

double ms_since_epoch(TimePoint t) { return std::chrono::duration<double, std::milli>(t.time_since_epoch()).count(); }

struct DelayResult {
  std::vector<double> delays_ms;
  std::uint64_t played = 0, late = 0, fec = 0, plc = 0, lost = 0;
};

// One talk through `stage` (the same stage for a row's talks, as for one student's talks in a lesson).
// ring: the real playout (PlayoutRing, 5 ms buffers); otherwise the stage is pulled whole steps on a
// 20 ms grid, as ptt-server did before PlayoutRing (the baseline for its start alignment).
void simulate(const std::vector<AudioPacket>& packets, double jitter_ms, double loss, unsigned seed,
              JitterStage& stage, DelayResult& r, bool ring_playout = true) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(0.0, jitter_ms);
  std::bernoulli_distribution lost(loss);
  std::vector<std::pair<double, std::size_t>> arrivals;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (lost(rng)) {
      ++r.lost;
      continue;
    }
    arrivals.emplace_back(i * 20.0 + jitter(rng), i);
  }
  std::sort(arrivals.begin(), arrivals.end());
  const JitterStats before = stage.stats();
  stage.start_talk(seed);
  const std::size_t buffer = ring_playout ? 240 : kStep;  // 5 ms, as ptt-server's PortAudio stream
  const double buffer_ms = static_cast<double>(buffer) / ptt::audio_format::kSamplesPerMs;
  std::vector<float> out(buffer);
  PlayoutRing ring;
  std::size_t next = 0;
  // The callback runs at a phase unrelated to the sender's clock.
  const double phase = std::uniform_real_distribution<double>(0.0, buffer_ms)(rng);
  for (int s = 0; stage.active(); ++s) {
    const double now = phase + s * buffer_ms;
    while (next < arrivals.size() && arrivals[next].first <= now) {
      auto p = packets[arrivals[next].second];
      p.header.talk_id = seed;
      // On a clock that starts at the epoch of simulated time (TimePoint{} itself reads as unknown).
      p.arrival = TimePoint{} + std::chrono::microseconds(static_cast<std::int64_t>(arrivals[next].first * 1000));
      stage.put(p);
      ++next;
    }
    if (next == arrivals.size()) stage.end_talk(seed);
    if (!ring_playout) {
      const auto step = stage.pull(out.data());
      if (step.kind == JitterStage::Step::played) r.delays_ms.push_back(now - ms_since_epoch(step.arrival));
      continue;
    }
    ring.fill(stage, out.data(), buffer, [&](const JitterStage::Step& step, std::size_t queued, const float*) {
      if (step.kind == JitterStage::Step::played)
        r.delays_ms.push_back(now + static_cast<double>(queued) / static_cast<double>(ptt::audio_format::kSamplesPerMs) - ms_since_epoch(step.arrival));
    });
  }
  const auto& st = stage.stats();
  r.played += st.played - before.played;
  r.late += st.late - before.late;
  r.fec += st.fec - before.fec;
  r.plc += st.plc - before.plc;
}

double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main() {
  const auto pcm = load_speech();
  const auto packets = encode(pcm, 1);
  std::printf("Pipeline added delay (arrival -> playout), 20 consecutive talks of %zu packets per row, 2 %% loss\n",
              packets.size());
  std::printf("start: 'learned' holds each talk's first packet for the jitter of the talks before (the\n"
              "default), 'fixed' is speexdsp alone (baseline, same process)\n"
              "playout: '5ms' is ptt-server's (PlayoutRing: a talk starts within a 5 ms device buffer of\n"
              "when it is due); '20ms' pulls whole steps on a 20 ms grid (the earlier playout, baseline)\n");
  std::printf("%-10s %-8s %-8s %-8s %10s %10s %8s %8s %8s\n", "jitter", "margin", "start", "playout", "median ms", "p99 ms",
              "late %", "FEC", "PLC");
  for (int margin : {0, 20}) {
    for (double jitter : {0.0, 20.0, 60.0}) {
      for (int variant = 0; variant < 3; ++variant) {
        const bool learned = variant > 0, ring_playout = variant < 2;
        JitterConfig config;
        config.margin_ms = margin;
        config.adaptive_start = learned;
        JitterStage stage(config);
        DelayResult r;
        for (unsigned seed = 1; seed <= 20; ++seed) simulate(packets, jitter, 0.02, seed, stage, r, ring_playout);
        const double arrived = static_cast<double>(r.played + r.late);
        std::printf("%-10s %-8s %-8s %-8s %10.1f %10.1f %8.2f %8llu %8llu\n",
                    (std::to_string(static_cast<int>(jitter)) + " ms").c_str(), (std::to_string(margin) + " ms").c_str(),
                    learned ? "learned" : "fixed", ring_playout ? "5ms" : "20ms", quantile(r.delays_ms, 0.5),
                    quantile(r.delays_ms, 0.99), 100.0 * static_cast<double>(r.late) / arrived,
                    static_cast<unsigned long long>(r.fec), static_cast<unsigned long long>(r.plc));
      }
    }
  }

  // CPU per live talker: a minute of speech through the jitter stage (decode included) and the
  // recorder, against plain decoding of the same packets.
  const auto minute = encode(pcm, static_cast<std::size_t>(60.0 / (static_cast<double>(pcm.size()) / ptt::audio_format::kSampleRate)) + 1);
  const double audio_s = minute.size() * 0.02;
  std::vector<float> out(kStep);
  double baseline = 1e9, pipeline = 1e9, recording = 1e9, ringing = 1e9, notching = 1e9, cancelling = 1e9;
  std::vector<float> played(static_cast<std::size_t>(audio_s * ptt::audio_format::kSampleRate));
  for (std::size_t i = 0; i < played.size(); ++i) played[i] = pcm[i % pcm.size()];
  for (int run = 0; run < 5; ++run) {
    {  // --feedback protect: the watchdog's look for a ringing tone in what was played
      RingingDetector detector;
      const double t0 = cpu_seconds();
      for (std::size_t at = 0; at + 240 <= played.size(); at += 240) (void)detector.feed(played.data() + at, 240);
      ringing = std::min(ringing, cpu_seconds() - t0);
    }
    {  // and one notch on the audio thread
      NotchBank bank;
      bank.set(0, 1000.0f);
      std::vector<float> x = played;
      const double t0 = cpu_seconds();
      for (std::size_t at = 0; at + 240 <= x.size(); at += 240) bank.process(x.data() + at, 240);
      notching = std::min(notching, cpu_seconds() - t0);
    }
    {  // and the echo canceller on the audio thread, the talk a room's copy of what was played
      EchoCanceller canceller;
      std::vector<float> x(played.size());
      constexpr std::size_t kRoom = 200 * 48;
      for (std::size_t i = kRoom; i < x.size(); ++i) x[i] = 0.5f * played[i - kRoom];
      const double t0 = cpu_seconds();
      for (std::size_t at = 0; at + kStep <= x.size(); at += kStep) {
        canceller.played(played.data() + at, kStep);
        canceller.cancel(x.data() + at, kStep, static_cast<std::int64_t>(at) - static_cast<std::int64_t>(kRoom));
      }
      cancelling = std::min(cancelling, cpu_seconds() - t0);
    }
    {
      ptt::codec::Decoder dec;
      const double t0 = cpu_seconds();
      for (const auto& p : minute) dec.decode(p.opus.data(), p.size, out.data(), kStep);
      baseline = std::min(baseline, cpu_seconds() - t0);
    }
    {
      JitterStage stage;
      stage.start_talk(1);
      const double t0 = cpu_seconds();
      for (const auto& p : minute) {
        stage.put(p);
        stage.pull(out.data());
      }
      pipeline = std::min(pipeline, cpu_seconds() - t0);
    }
    {
      const auto dir = std::filesystem::temp_directory_path() / ("ptt-bench-" + std::to_string(::getpid()));
      Recorder rec(dir, [](bool, const std::string&) {}, minute.size());  // the minute is handed over at once: no cap
      const auto w0 = std::chrono::steady_clock::now();
      const double t0 = cpu_seconds();  // the process's CPU: the recorder thread's writing included
      rec.talk_started(1, "bench", wall_clock_us());
      for (const auto& p : minute) rec.packet(p);
      rec.talk_ended(1);
      rec.flush();
      recording = std::min(recording, cpu_seconds() - t0);
      (void)w0;
      std::filesystem::remove_all(dir);
    }
  }
  std::printf("\nCPU per live talker (%.0f s of speech, best of 5 runs, one core = 100 %%)\n", audio_s);
  std::printf("  Opus decode alone (baseline)     %6.3f %% of a core\n", 100 * baseline / audio_s);
  std::printf("  jitter stage + decode            %6.3f %% of a core  (%.2fx the baseline)\n", 100 * pipeline / audio_s,
              pipeline / baseline);
  std::printf("  recorder (queue + Ogg + write)   %6.3f %% of a core\n", 100 * recording / audio_s);
  std::printf("  total                            %6.3f %% of a core\n", 100 * (pipeline + recording) / audio_s);
  std::printf("With --feedback protect, besides (docs/AUDIO.md, \"Feedback\"):\n");
  std::printf("  looking for a ringing tone        %6.3f %% of a core (the watchdog thread)\n", 100 * ringing / audio_s);
  std::printf("  one notch                         %6.3f %% of a core (the audio thread)\n", 100 * notching / audio_s);
  std::printf("  echo canceller (%d ms filter)     %6.3f %% of a core (the audio thread, once engaged)\n", EchoCanceller::kTailMs,
              100 * cancelling / audio_s);
  return 0;
}
