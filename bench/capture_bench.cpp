// Per-frame cost of the student's capture path (speexdsp denoise + gain, VAD, level meter, Opus
// encode, protocol framing), the code the AudioWorklet runs as wasm, here natively; beside Opus
// encoding alone (the baseline) in the same process. Input: the test speech, pushed in the
// worklet's 128-sample quanta. Each figure is the mean cost per 20 ms frame over a batch of 50
// frames (1 s of audio); median and p99 over all batches of several runs.
// bench/capture_cost.mjs runs this beside the same code as wasm under node and in Chromium.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "bench_common.hpp"
#include "ptt/audio_format.hpp"
#include "ptt/capture_pipeline.hpp"
#include "ptt/codec.hpp"
#include "ptt/preprocessor.hpp"

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

// What speexdsp's frame length costs in quality. Its overlap-add delays the output by one frame,
// so shorter frames are less delay, but coarser spectra (a 480-sample frame resolves 100 Hz,
// 240 samples 200 Hz). Speech in steady noise, AGC off (the gain would move the score), scored
// against the clean speech delayed by the frame: SNR after a least-squares gain, over the
// speech's 10 ms blocks (segmental, so quiet syllables count as much as loud ones).
struct Quality {
  double noise_db = 0;   // attenuation of noise alone (last second of three)
  double seg_snr = 0;    // segmental SNR of the output (dB)
  double corr = 0;       // correlation with the clean speech
};

std::vector<float> noise(float rms, std::size_t n, bool brown, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(n);
  double acc = 0, energy = 0;
  for (auto& v : x) {
    acc = brown ? 0.99 * acc + g(rng) : g(rng);
    v = static_cast<float>(acc);
    energy += acc * acc;
  }
  const double scale = rms / std::sqrt(energy / static_cast<double>(n));
  for (auto& v : x) v = static_cast<float>(v * scale);
  return x;
}

std::vector<float> preprocess(std::vector<float> x, int frame) {
  ptt::PreprocessorConfig c;
  c.frame_samples = frame;
  c.agc = false;
  ptt::Preprocessor p(c);
  x.resize(x.size() / static_cast<std::size_t>(frame) * static_cast<std::size_t>(frame));
  for (std::size_t off = 0; off < x.size(); off += static_cast<std::size_t>(frame)) p.process(x.data() + off);
  return x;
}

double segmental_snr(const std::vector<float>& clean, const std::vector<float>& out, std::size_t from, long lag) {
  double cc = 0, co = 0;
  for (std::size_t i = from; i + static_cast<std::size_t>(lag) < out.size() && i < clean.size(); ++i) {
    cc += double(clean[i]) * clean[i];
    co += double(clean[i]) * out[i + static_cast<std::size_t>(lag)];
  }
  const double g = co / cc;
  std::vector<double> snrs;
  const std::size_t block = af::kSubframeSamples;
  for (std::size_t b = from; b + block + static_cast<std::size_t>(lag) <= out.size() && b + block <= clean.size(); b += block) {
    double s = 0, e = 0;
    for (std::size_t i = b; i < b + block; ++i) {
      const double c = g * clean[i];
      s += c * c;
      e += (out[i + static_cast<std::size_t>(lag)] - c) * (out[i + static_cast<std::size_t>(lag)] - c);
    }
    if (s < 1e-6 * block) continue;  // a pause: nothing to score
    snrs.push_back(std::clamp(10 * std::log10(s / (e + 1e-12)), -10.0, 35.0));
  }
  double sum = 0;
  for (double v : snrs) sum += v;
  return snrs.empty() ? 0 : sum / static_cast<double>(snrs.size());
}

double correlation_at(const std::vector<float>& a, const std::vector<float>& b, long lag) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size() && i + static_cast<std::size_t>(lag) < b.size(); ++i) {
    ab += double(a[i]) * b[i + static_cast<std::size_t>(lag)];
    aa += double(a[i]) * a[i];
    bb += double(b[i + static_cast<std::size_t>(lag)]) * b[i + static_cast<std::size_t>(lag)];
  }
  return ab / std::sqrt(aa * bb + 1e-30);
}

Quality preprocessor_quality(const std::vector<float>& speech, int frame, bool brown, float noise_rms) {
  Quality q;
  const auto alone = noise(noise_rms, 3 * af::kSampleRate, brown, 7);
  const auto cleaned = frame == 0 ? alone : preprocess(alone, frame);
  const std::size_t last = cleaned.size() - af::kSampleRate;
  double in = 0, out = 0;
  for (std::size_t i = last; i < cleaned.size(); ++i) {
    in += double(alone[i]) * alone[i];
    out += double(cleaned[i]) * cleaned[i];
  }
  q.noise_db = 10 * std::log10(in / (out + 1e-30));
  // Two seconds of noise first, so the noise estimate has settled when the speech starts.
  const std::size_t lead = 2 * af::kSampleRate;
  std::vector<float> clean(lead, 0.0f);
  clean.insert(clean.end(), speech.begin(), speech.end());
  auto mix = noise(noise_rms, clean.size(), brown, 11);
  for (std::size_t i = 0; i < clean.size(); ++i) mix[i] += clean[i];
  const auto result = frame == 0 ? mix : preprocess(mix, frame);
  q.seg_snr = segmental_snr(clean, result, lead, frame);
  std::vector<float> speech_part(clean.begin() + static_cast<long>(lead), clean.end());
  std::vector<float> out_part(result.begin() + static_cast<long>(lead), result.end());
  q.corr = correlation_at(speech_part, out_part, frame);
  return q;
}

void print_preprocessor_quality(const std::vector<float>& pcm) {
  const std::vector<float> speech(pcm.begin(), pcm.begin() + static_cast<long>(std::min<std::size_t>(pcm.size(), 20 * af::kSampleRate)));
  std::printf("\nspeexdsp preprocessor by frame length (delay = one frame; AGC off; speech %.0f s in steady noise)\n",
              static_cast<double>(speech.size()) / af::kSampleRate);
  std::printf("  %-22s %8s   %-30s   %-30s\n", "", "", "white noise, 10 dB below speech", "brown noise, 10 dB below speech");
  std::printf("  %-22s %8s   %9s %10s %8s   %9s %10s %8s\n", "frame", "delay", "noise cut", "seg. SNR", "corr", "noise cut",
              "seg. SNR", "corr");
  // Noise 10 dB below the speech's RMS over the whole clip (pauses included, so louder than that
  // against its syllables).
  double e = 0;
  for (float v : speech) e += double(v) * v;
  const float noise_rms = static_cast<float>(0.1 * std::sqrt(e / static_cast<double>(speech.size())) * 3);
  for (int frame : {0, 480, 240, 120}) {
    const Quality w = preprocessor_quality(speech, frame, false, noise_rms);
    const Quality b = preprocessor_quality(speech, frame, true, noise_rms);
    char name[32];
    std::snprintf(name, sizeof name, frame == 0 ? "unprocessed (input)" : "%d samples (%.1f ms)", frame, frame / 48.0);
    std::printf("  %-22s %5.1f ms   %6.1f dB %7.1f dB %8.3f   %6.1f dB %7.1f dB %8.3f\n", name, frame / 48.0,
                frame == 0 ? 0.0 : w.noise_db, w.seg_snr, w.corr, frame == 0 ? 0.0 : b.noise_db, b.seg_snr, b.corr);
    if (frame != 0)
      std::printf("RESULT preprocessor_frame samples=%d white_seg_snr=%.2f brown_seg_snr=%.2f white_cut_db=%.1f brown_cut_db=%.1f\n",
                  frame, w.seg_snr, b.seg_snr, w.noise_db, b.noise_db);
  }
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
  print_preprocessor_quality(pcm);
  // For bench/capture_cost.mjs and scripts/bench.
  std::printf("RESULT native_capture_us median=%.3f p99=%.3f encode_median=%.3f\n", cap_med, quantile(capture, 0.99), enc_med);
  std::printf("RESULT wire_kbps ws_tls=%.1f line=%.1f pcm_ws_tls=%.1f\n", kbps(opus_ws_tls), kbps(opus_line), kbps(pcm_ws_tls));
  return 0;
}
