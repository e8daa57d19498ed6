// Per-frame cost of the student's capture path (speexdsp denoise + gain, VAD, level meter, Opus
// encode, protocol framing), the code the AudioWorklet runs as wasm, here natively; beside Opus
// encoding alone (the baseline) in the same process. Input: the test speech, pushed in the
// worklet's 128-sample quanta. Each figure is the mean cost per 20 ms frame over a batch of 50
// frames (1 s of audio); median and p99 over all batches of several runs.
// bench/capture_cost.mjs runs this beside the same code as wasm under node and in Chromium.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "bench_common.hpp"
#include "ptt/audio_format.hpp"
#include "ptt/capture_pipeline.hpp"
#include "ptt/codec.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using ptt::bench::quantile;
namespace af = ptt::audio_format;
constexpr std::size_t kQuantum = 128, kFrame = af::kFrameSamples, kBatchFrames = 50;
constexpr int kRuns = 5, kSeconds = 30;

// Bytes a message of `payload` bytes costs from the browser: WebSocket client frame header (with
// its mask) and a TLS 1.3 record (5-byte header, content type, 16-byte tag); and, for the line
// rate, one TCP/IPv4 segment with timestamps (52 bytes) per message.
std::size_t ws_tls_bytes(std::size_t payload) { return payload + (payload < 126 ? 6 : 8) + 22; }
constexpr std::size_t kTcpIp = 52;

struct Wire {
  std::size_t messages = 0, payload = 0, ws_tls = 0;
  double seconds = 0;
};

// The whole capture path, as the worklet drives it: press, grant, then quanta.
std::vector<double> capture_batches(const std::vector<float>& pcm, Wire& wire) {
  std::vector<double> batches;
  std::vector<float> quantum(kQuantum);
  for (int run = 0; run < kRuns; ++run) {
    ptt::CapturePipeline p;
    p.press();
    p.grant(1);
    std::size_t pos = 0, in_batch = 0;
    std::uint64_t t_us = 1'000'000;
    auto start = Clock::now();
    for (std::size_t q = 0; q < kSeconds * af::kSampleRate / kQuantum; ++q) {
      for (auto& s : quantum) {
        s = pcm[pos];
        pos = (pos + 1) % pcm.size();
      }
      p.push(quantum.data(), kQuantum, t_us);
      if (run == 0)
        for (std::size_t i = 0; i < p.ready_count(); ++i) {
          ++wire.messages;
          wire.payload += p.ready_size(i);
          wire.ws_tls += ws_tls_bytes(p.ready_size(i));
        }
      p.clear_ready();
      t_us += af::samples_to_us(kQuantum);
      if ((in_batch += kQuantum) >= kBatchFrames * kFrame) {
        const auto end = Clock::now();
        batches.push_back(std::chrono::duration<double, std::micro>(end - start).count() / kBatchFrames);
        start = end;
        in_batch -= kBatchFrames * kFrame;
      }
    }
  }
  return batches;
}

// Baseline: Opus encoding alone of the same audio, 20 ms at a time.
std::vector<double> encode_batches(const std::vector<float>& pcm) {
  std::vector<double> batches;
  std::vector<float> frame(kFrame);
  std::vector<std::uint8_t> out(af::kMaxOpusPacket);
  for (int run = 0; run < kRuns; ++run) {
    ptt::codec::Encoder enc;
    std::size_t pos = 0;
    for (std::size_t b = 0; b < kSeconds * 50 / kBatchFrames; ++b) {
      const auto start = Clock::now();
      for (std::size_t f = 0; f < kBatchFrames; ++f) {
        for (auto& s : frame) {
          s = pcm[pos];
          pos = (pos + 1) % pcm.size();
        }
        enc.encode(frame.data(), out.data(), out.size());
      }
      batches.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() / kBatchFrames);
    }
  }
  return batches;
}

}  // namespace

int main() {
  const auto pcm = ptt::bench::load_speech();
  encode_batches(pcm);  // warm-up: caches, clocks
  const auto encode = encode_batches(pcm);
  Wire wire;
  wire.seconds = kSeconds;
  const auto capture = capture_batches(pcm, wire);
  const double enc_med = quantile(encode, 0.5), cap_med = quantile(capture, 0.5);
  std::printf("Capture path per 20 ms frame, native (%d runs x %d s of speech, batches of %zu frames)\n", kRuns,
              kSeconds, kBatchFrames);
  std::printf("  %-46s median %7.1f us  p99 %7.1f us\n", "Opus encode alone (baseline)", enc_med, quantile(encode, 0.99));
  std::printf("  %-46s median %7.1f us  p99 %7.1f us  (%.2fx the baseline; %.2f %% of real time)\n",
              "denoise + gain + VAD + meter + encode + frame", cap_med, quantile(capture, 0.99), cap_med / enc_med,
              cap_med / 200.0);
  // On the wire, against a naive stream of raw 48 kHz float PCM, one message per 128-sample quantum.
  const double pcm_payload = af::kSampleRate * 4.0, pcm_messages = af::kSampleRate / static_cast<double>(kQuantum);
  const double pcm_ws_tls = pcm_messages * static_cast<double>(ws_tls_bytes(kQuantum * 4));
  auto kbps = [](double bytes_per_s) { return bytes_per_s * 8 / 1000; };
  const double opus_ws_tls = static_cast<double>(wire.ws_tls) / wire.seconds;
  const double opus_line = opus_ws_tls + static_cast<double>(wire.messages * kTcpIp) / wire.seconds;
  std::printf("\nOn the wire per second of talk (%d s of speech; silent packets are not sent)\n", kSeconds);
  std::printf("  %-34s %8s %12s %14s\n", "", "payload", "+ WS + TLS", "+ TCP/IP");
  std::printf("  %-34s %6.1f kb/s %7.1f kb/s %9.1f kb/s  (%zu messages/s)\n", "Opus packets (ours)",
              kbps(static_cast<double>(wire.payload) / wire.seconds), kbps(opus_ws_tls), kbps(opus_line),
              static_cast<std::size_t>(static_cast<double>(wire.messages) / wire.seconds));
  std::printf("  %-34s %6.1f kb/s %7.1f kb/s %9.1f kb/s  (%.0f messages/s)\n", "raw float PCM, 128 samples/message",
              kbps(pcm_payload), kbps(pcm_ws_tls), kbps(pcm_ws_tls + pcm_messages * kTcpIp), pcm_messages);
  std::printf("  %-34s %.1fx less with WS + TLS\n", "", pcm_ws_tls / opus_ws_tls);
  // For bench/capture_cost.mjs and scripts/bench.
  std::printf("RESULT native_capture_us median=%.3f p99=%.3f encode_median=%.3f\n", cap_med, quantile(capture, 0.99), enc_med);
  std::printf("RESULT wire_kbps ws_tls=%.1f line=%.1f pcm_ws_tls=%.1f\n", kbps(opus_ws_tls), kbps(opus_line), kbps(pcm_ws_tls));
  return 0;
}
