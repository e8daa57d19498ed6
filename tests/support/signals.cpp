#include "signals.hpp"

#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

namespace ptt::test {
namespace {
constexpr double kPi = 3.14159265358979323846;
}

std::vector<float> sine(float freq_hz, float amplitude, std::size_t samples) {
  std::vector<float> x(samples);
  for (std::size_t i = 0; i < samples; ++i)
    x[i] = amplitude * static_cast<float>(std::sin(2 * kPi * freq_hz * static_cast<double>(i) / kRate));
  return x;
}

std::vector<float> vowel(float f0_hz, float amplitude, std::size_t samples) {
  std::vector<double> excitation(samples, 0.0);
  const double period = kRate / f0_hz;
  for (double t = 0; t < static_cast<double>(samples); t += period) excitation[static_cast<std::size_t>(t)] = 1.0;
  std::vector<double> y = excitation;
  // Formants of /a/ with bandwidths, as two-pole resonators in series.
  const double formants[3][2] = {{730, 90}, {1090, 110}, {2440, 170}};
  for (const auto& f : formants) {
    const double r = std::exp(-kPi * f[1] / kRate), theta = 2 * kPi * f[0] / kRate;
    const double a1 = -2 * r * std::cos(theta), a2 = r * r;
    double y1 = 0, y2 = 0;
    for (auto& v : y) {
      const double out = v - a1 * y1 - a2 * y2;
      y2 = y1;
      y1 = out;
      v = out;
    }
  }
  double peak = 0;
  for (double v : y) peak = std::max(peak, std::fabs(v));
  std::vector<float> x(samples);
  for (std::size_t i = 0; i < samples; ++i) x[i] = static_cast<float>(amplitude * y[i] / peak);
  return x;
}

std::vector<float> white_noise(float amplitude, std::size_t samples, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-amplitude, amplitude);
  std::vector<float> x(samples);
  for (auto& v : x) v = dist(rng);
  return x;
}

std::vector<float> brown_noise(float amplitude, std::size_t samples, unsigned seed) {
  auto w = white_noise(1.0f, samples, seed);
  std::vector<float> x(samples);
  double acc = 0, peak = 1e-9;
  for (std::size_t i = 0; i < samples; ++i) {
    acc = 0.995 * acc + w[i];
    x[i] = static_cast<float>(acc);
    peak = std::max(peak, std::fabs(acc));
  }
  for (auto& v : x) v = static_cast<float>(amplitude * v / peak);
  return x;
}

std::vector<float> speech() {
  const std::string path = std::string(PTT_TESTDATA) + "/speech.f32";
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("missing test speech: " + path);
  const auto bytes = static_cast<std::size_t>(in.tellg());
  std::vector<float> x(bytes / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(x.data()), static_cast<std::streamsize>(x.size() * sizeof(float)));
  return x;
}

double correlation(const std::vector<float>& a, const std::vector<float>& b, long lag) {
  double ab = 0, aa = 0, bb = 0;
  for (long i = 0; i < static_cast<long>(a.size()); ++i) {
    const long j = i + lag;
    if (j < 0 || j >= static_cast<long>(b.size())) continue;
    ab += static_cast<double>(a[i]) * b[j];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[j]) * b[j];
  }
  return (aa > 0 && bb > 0) ? ab / std::sqrt(aa * bb) : 0.0;
}

double best_correlation(const std::vector<float>& a, const std::vector<float>& b, long lo, long hi, long* lag_out) {
  double best = -2;
  long best_lag = lo;
  for (long lag = lo; lag <= hi; ++lag) {
    const double c = correlation(a, b, lag);
    if (c > best) {
      best = c;
      best_lag = lag;
    }
  }
  if (lag_out) *lag_out = best_lag;
  return best;
}

double rms(const float* x, std::size_t n) {
  double e = 0;
  for (std::size_t i = 0; i < n; ++i) e += static_cast<double>(x[i]) * x[i];
  return n ? std::sqrt(e / static_cast<double>(n)) : 0.0;
}
double rms(const std::vector<float>& x) { return rms(x.data(), x.size()); }

}  // namespace ptt::test

namespace ptt::test {

std::vector<float> band_noise(float rms_amplitude, std::size_t samples, float lo_hz, float hi_hz, unsigned seed) {
  auto x = white_noise(1.0f, samples, seed);
  auto biquad = [&](float cutoff, bool highpass) {
    const double w = 2 * kPi * cutoff / kRate, cw = std::cos(w), alpha = std::sin(w) / (2 * 0.7071);
    const double k = highpass ? (1 + cw) / 2 : (1 - cw) / 2, a0 = 1 + alpha;
    const double b0 = k / a0, b1 = (highpass ? -2 * k : 2 * k) / a0, b2 = k / a0, a1 = -2 * cw / a0,
                 a2 = (1 - alpha) / a0;
    double z1 = 0, z2 = 0;
    for (auto& v : x) {
      const double y = b0 * v + z1;
      z1 = b1 * v - a1 * y + z2;
      z2 = b2 * v - a2 * y;
      v = static_cast<float>(y);
    }
  };
  for (int pass = 0; pass < 2; ++pass) {
    biquad(lo_hz, true);
    biquad(hi_hz, false);
  }
  const double r = rms(x);
  for (auto& v : x) v = static_cast<float>(v * rms_amplitude / r);
  return x;
}

std::vector<float> padded(const std::vector<float>& x, std::size_t lead, std::size_t tail) {
  std::vector<float> out(lead, 0.0f);
  out.insert(out.end(), x.begin(), x.end());
  out.insert(out.end(), tail, 0.0f);
  return out;
}

}  // namespace ptt::test
