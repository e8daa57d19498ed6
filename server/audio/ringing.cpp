#include "ringing.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "ptt/audio_format.hpp"

namespace ptt::server {

namespace {
double db(double x) { return 20 * std::log10(std::max(x, 1e-12)); }
}  // namespace

RingingDetector::RingingDetector() {
  static_assert(audio_format::kSampleRate == kRate * kDecimation);
  for (int i = 0; i < kWindow; ++i)
    hann_[static_cast<std::size_t>(i)] = static_cast<float>(0.5 - 0.5 * std::cos(2 * std::numbers::pi * i / (kWindow - 1)));
  // A windowed-sinc low-pass at 7 kHz (48 kHz rate), unity gain: what would fold below 6 kHz at
  // 16 kHz is at least 30 dB down.
  double sum = 0;
  for (int i = 0; i < kTaps; ++i) {
    const double m = i - (kTaps - 1) / 2.0, x = 2 * 7000.0 / audio_format::kSampleRate;
    const double sinc = m == 0 ? x : std::sin(std::numbers::pi * x * m) / (std::numbers::pi * m);
    const double hamming = 0.54 - 0.46 * std::cos(2 * std::numbers::pi * i / (kTaps - 1));
    taps_[static_cast<std::size_t>(i)] = static_cast<float>(sinc * hamming);
    sum += sinc * hamming;
  }
  for (auto& t : taps_) t = static_cast<float>(t / sum);
  for (double hz = kMinHz; hz <= kMaxHz; hz *= std::exp2(1.0 / kPerOctave)) centres_.push_back(hz);
  powers_.resize(centres_.size());
  sorted_.resize(centres_.size());
}

void RingingDetector::reset() noexcept {
  filled_ = 0;
  recent_.fill(0);
  recent_at_ = phase_ = 0;
  for (auto& w : history_) w.fill(0);
  next_ = 0;
  reported_count_ = 0;
}

double RingingDetector::feed(const float* pcm, std::size_t n) noexcept {
  double found = 0;
  for (std::size_t i = 0; i < n; ++i) {
    recent_[recent_at_] = pcm[i];
    recent_at_ = (recent_at_ + 1) % recent_.size();
    if (++phase_ < kDecimation) continue;
    phase_ = 0;
    float y = 0;  // the low-pass at this sample: taps against the last kTaps inputs, oldest first
    for (std::size_t t = 0; t < taps_.size(); ++t) y += taps_[t] * recent_[(recent_at_ + t) % recent_.size()];
    window_[filled_++] = y;
    if (filled_ < window_.size()) continue;
    filled_ = 0;
    // The window's lone peaks join the last kHistory windows'; a ring is a frequency that was a
    // lone peak in kSustainWindows of them (speech louder than the tone hides it in a few). A
    // glide (a whistle, a sung note's slide) leaves each frequency too soon to count.
    auto& slot = history_[static_cast<std::size_t>(next_++ % kHistory)];
    slot.fill(0);
    analyse(slot);
    for (const double hz : slot) {
      if (hz <= 0) continue;
      const auto same = [&](double other) { return other > 0 && std::abs(std::log2(other / hz)) * kPerOctave <= 1.0; };
      const auto windows = std::count_if(history_.begin(), history_.end(),
                                         [&](const Peaks& w) { return std::any_of(w.begin(), w.end(), same); });
      if (windows < kSustainWindows) continue;
      const bool known = std::any_of(reported_.begin(), reported_.begin() + reported_count_,
                                     [&](double r) { return std::abs(r - hz) < 0.02 * hz; });
      if (!known && reported_count_ < kMaxReported) {
        reported_[static_cast<std::size_t>(reported_count_++)] = hz;
        found = hz;
      }
    }
  }
  return found;
}

// A Hann-windowed Goertzel filter at hz: the amplitude of a sine there, in dBFS (the window's
// coherent gain is a half, so a full-scale sine gives |X| = N / 4).
double RingingDetector::level(double hz) const noexcept {
  const double w = 2 * std::numbers::pi * hz / kRate, coeff = 2 * std::cos(w);
  double s1 = 0, s2 = 0;
  for (int i = 0; i < kWindow; ++i) {
    const double s0 = window_[static_cast<std::size_t>(i)] * hann_[static_cast<std::size_t>(i)] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const double power = std::max(0.0, s1 * s1 + s2 * s2 - coeff * s1 * s2);
  return db(std::sqrt(power) / (kWindow / 4.0));
}

void RingingDetector::analyse(Peaks& out) noexcept {
  for (std::size_t i = 0; i < centres_.size(); ++i) powers_[i] = level(centres_[i]);
  std::copy(powers_.begin(), powers_.end(), sorted_.begin());
  auto mid = sorted_.begin() + static_cast<std::ptrdiff_t>(sorted_.size() / 2);
  std::nth_element(sorted_.begin(), mid, sorted_.end());
  const double median = *mid;
  // The strongest local maxima, strongest first: a tone under louder speech is one of them.
  std::array<std::size_t, kPeaksPerWindow> peaks{};
  std::size_t count = 0;
  for (std::size_t i = 1; i + 1 < centres_.size(); ++i) {
    if (powers_[i] < powers_[i - 1] || powers_[i] < powers_[i + 1] || powers_[i] < kMinLevelDb) continue;
    if (powers_[i] - median < kPeakOverMedianDb) continue;
    std::size_t at = std::min(count, peaks.size() - 1);
    if (count == peaks.size() && powers_[i] <= powers_[peaks[at]]) continue;
    while (at > 0 && powers_[peaks[at - 1]] < powers_[i]) {
      peaks[at] = peaks[at - 1];
      --at;
    }
    peaks[at] = i;
    count = std::min(count + 1, peaks.size());
  }
  std::size_t lone = 0;
  for (std::size_t p = 0; p < count; ++p) {
    const double top = powers_[peaks[p]], f = centres_[peaks[p]];
    // Its neighbourhood: a tone stands above it; a row of harmonics, a pitch apart, fills it.
    std::size_t near = 0;
    for (std::size_t i = 0; i < centres_.size(); ++i) {
      const double away = std::abs(centres_[i] - f) / f;
      if (away >= kNeighbourNear && away <= kNeighbourFar) sorted_[near++] = powers_[i];
    }
    if (near > 0) {
      auto loud = sorted_.begin() + static_cast<std::ptrdiff_t>(near * 4 / 5);
      std::nth_element(sorted_.begin(), loud, sorted_.begin() + static_cast<std::ptrdiff_t>(near));
      if (top - *loud < kPeakOverNeighboursDb) continue;
    }
    // The tone itself: the strongest of a finer scan across the filter and its neighbours.
    double best = f, best_level = top;
    for (double r = -0.045; r <= 0.045; r += 0.001) {
      const double l = level(f * (1 + r));
      if (l > best_level) {
        best_level = l;
        best = f * (1 + r);
      }
    }
    // Not one of a row of harmonics: as the k-th harmonic of a voice at best / k, it would have
    // siblings a pitch below and above it nearly as strong (a held vowel's formant peak does).
    // Or, where a formant lifts it far above its siblings, it is the k-th of a comb: other
    // multiples of best / k stand above the troughs between them.
    bool harmonic = false;
    for (int k = 2; k <= 12 && !harmonic; ++k) {
      const double pitch = best / k;
      harmonic = best_level - level(best - pitch) < kSiblingWithinDb && best_level - level(best + pitch) < kSiblingWithinDb;
      if (harmonic || k > 8 || pitch < 70) continue;
      int teeth = 0;
      for (int j = 1; j <= k + 2; ++j) {
        if (j == k) continue;
        const double tooth = level(j * pitch);
        if (tooth > best_level - kCombWithinDb && tooth - level((j + 0.5) * pitch) >= kCombDepthDb) ++teeth;
      }
      harmonic = teeth >= 3;
    }
    if (!harmonic) out[lone++] = best;
  }
}

void NotchBank::process(float* x, std::size_t n) noexcept {
  for (std::size_t s = 0; s < sections_.size(); ++s) {
    Section& q = sections_[s];
    const float hz = hz_[s].load(std::memory_order_relaxed);
    if (hz != q.hz) {
      if (q.hz == 0) q.z1 = q.z2 = 0;  // a new notch starts from rest; a moved one keeps its state
      q.hz = hz;
      if (hz > 0) {  // RBJ's notch
        const double w = 2 * std::numbers::pi * hz / audio_format::kSampleRate, alpha = std::sin(w) / (2 * kQ), a0 = 1 + alpha;
        q.b0 = 1 / a0;
        q.b1 = -2 * std::cos(w) / a0;
        q.b2 = 1 / a0;
        q.a1 = -2 * std::cos(w) / a0;
        q.a2 = (1 - alpha) / a0;
      }
    }
    if (q.hz <= 0) continue;
    for (std::size_t i = 0; i < n; ++i) {
      const double in = x[i], y = q.b0 * in + q.z1;
      q.z1 = q.b1 * in - q.a1 * y + q.z2;
      q.z2 = q.b2 * in - q.a2 * y;
      x[i] = static_cast<float>(y);
    }
  }
}

}  // namespace ptt::server
