#include "feedback_estimator.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace ptt::server {

namespace {

constexpr int kSamplesPerMs = 48;
constexpr int kWindow = FeedbackEstimator::kWindowMs * FeedbackEstimator::kRate / 1000;
constexpr int kMaxLag = FeedbackEstimator::kMaxDelayMs * FeedbackEstimator::kRate / 1000;
constexpr int kMinLag = FeedbackEstimator::kMinDelayMs * FeedbackEstimator::kRate / 1000;
// A peak below this normalised correlation is chance (1 s at 2 kHz: ~0.03 for unrelated speech).
constexpr double kMinCorrelation = 0.15;
// How far a block's dating may stray from its stream's place before the stream is placed anew: the
// device's latency readings and the page's render clock jitter by a few ms.
constexpr std::int64_t kReanchorSamples = 10 * kSamplesPerMs;

std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept { return a >= 0 ? a / b : -((-a + b - 1) / b); }
std::size_t slot(std::int64_t index) noexcept {
  return static_cast<std::size_t>(((index % FeedbackEstimator::kHistory) + FeedbackEstimator::kHistory) %
                                  FeedbackEstimator::kHistory);
}

}  // namespace

void FeedbackEstimator::init(Timeline& t) noexcept {
  t.x.fill(0.0f);
  t.has.fill(false);
  t.anchored = false;
  t.offset = 0;
  t.latest = -1;
  // 4th-order Butterworth low-pass at 1 kHz for 48 kHz (two sections, Q 0.5412 and 1.3066),
  // against aliasing into the 2 kHz timeline.
  const double w = 2 * M_PI * 1000.0 / 48000.0, cw = std::cos(w), sw = std::sin(w);
  const double qs[2] = {0.5411961, 1.3065630};
  for (int i = 0; i < 2; ++i) {
    const double alpha = sw / (2 * qs[i]), a0 = 1 + alpha;
    t.lowpass[i] = Biquad{(1 - cw) / 2 / a0, (1 - cw) / a0, (1 - cw) / 2 / a0, -2 * cw / a0, (1 - alpha) / a0};
  }
}

void FeedbackEstimator::reset() noexcept {
  init(played_);
  init(captured_);
  captured_.earliest = true;
  excluded_.fill(-1);
  next_excluded_ = 0;
}

void FeedbackEstimator::exclude(double delay_ms) noexcept {
  excluded_[static_cast<std::size_t>(next_excluded_)] = static_cast<int>(std::lround(delay_ms * kRate / 1000));
  next_excluded_ = (next_excluded_ + 1) % kMaxExcluded;
}

void FeedbackEstimator::feed(Timeline& t, const float* pcm, int n, std::int64_t position, std::int64_t first_us) noexcept {
  // See played() and captured().
  const std::int64_t dated = first_us * kSamplesPerMs / 1000 - position;
  if (!t.anchored || (t.earliest ? dated < t.offset : std::abs(dated - t.offset) > kReanchorSamples)) {
    t.anchored = true;
    t.offset = dated;
  }
  for (int i = 0; i < n; ++i) {
    double y = pcm[i];
    for (auto& b : t.lowpass) y = b.run(y);
    const std::int64_t at = position + i + t.offset;  // 48 kHz, room clock
    if (at % kDecimation != 0) continue;
    const std::int64_t index = floor_div(at, kDecimation);
    // A stream that jumps ahead (a gap: silence not sent, a device reopened) leaves the slots
    // between unmarked, so no correlation counts them.
    for (std::int64_t k = std::max(t.latest + 1, index - kHistory + 1); t.latest >= 0 && k < index; ++k) t.has[slot(k)] = false;
    t.x[slot(index)] = static_cast<float>(y);
    t.has[slot(index)] = true;
    t.latest = std::max(t.latest, index);
  }
}

FeedbackEstimator::Estimate FeedbackEstimator::estimate() const noexcept {
  Estimate e;
  const std::int64_t end = captured_.latest;  // the window: the second of captured audio before this
  if (end < 0 || played_.latest < 0) return e;
  const std::int64_t begin = end - kWindow + 1;
  // Linear copies (missing samples as zeros) so that each lag is a plain dot product.
  int xs = 0;
  double xx = 0;
  for (int i = 0; i < kWindow; ++i) {
    const std::size_t a = slot(begin + i);
    const bool have = captured_.has[a] && begin + i > captured_.latest - kHistory;
    x_[static_cast<std::size_t>(i)] = have ? captured_.x[a] : 0.0f;
    xs += have;
    xx += double(x_[static_cast<std::size_t>(i)]) * x_[static_cast<std::size_t>(i)];
  }
  if (xs < kWindow / 2 || xx <= 1e-9) return e;
  // p_[i] is the played sample at begin - kMaxLag + i.
  for (int i = 0; i < kWindow + kMaxLag; ++i) {
    const std::int64_t j = begin - kMaxLag + i;
    const std::size_t b = slot(j);
    const bool have = j <= played_.latest && j > played_.latest - kHistory && played_.has[b];
    p_[static_cast<std::size_t>(i)] = have ? played_.x[b] : 0.0f;
  }
  // Energy of the played window at each lag, slid along.
  double pp = 0;
  for (int i = kMaxLag; i < kMaxLag + kWindow; ++i) pp += double(p_[static_cast<std::size_t>(i)]) * p_[static_cast<std::size_t>(i)];
  double best = 0, best_xp = 0, best_pp = 0;
  int best_lag = -1;
  for (int lag = 0; lag <= kMaxLag; ++lag) {
    const float* p = p_.data() + (kMaxLag - lag);
    float xp = 0;
    for (int i = 0; i < kWindow; ++i) xp += x_[static_cast<std::size_t>(i)] * p[i];
    const bool excluded = std::any_of(excluded_.begin(), excluded_.end(),
                                      [&](int x) { return x >= 0 && std::abs(lag - x) <= 5 * kRate / 1000; });
    if (pp > 1e-9 && !excluded && lag >= kMinLag) {
      const double rho = xp / std::sqrt(xx * pp);
      if (rho > best) best = rho, best_xp = xp, best_pp = pp, best_lag = lag;
    }
    // Next lag: the window moves one sample earlier in p_.
    if (lag < kMaxLag) {
      const double in = p_[static_cast<std::size_t>(kMaxLag - lag - 1)], out = p_[static_cast<std::size_t>(kMaxLag - lag - 1 + kWindow)];
      pp = std::max(0.0, pp + in * in - out * out);
    }
  }
  if (best_lag < 0) return e;
  e.correlation = best;
  e.delay_ms = best_lag * 1000.0 / kRate;
  e.coupling_db = best_xp > 0 ? 20 * std::log10(best_xp / best_pp) : -99;
  // What was played, 25 dB or more under what came in (the professor's volume turned far down, the
  // playback lowered its most), cannot be told from the voice resembling it: g = rho |x| / |p|
  // grows with |x| / |p| whatever rho is (+42 dB for a voice with no room at a volume of 3 %).
  e.valid = best >= kMinCorrelation && best_pp * kQuietestPlayed >= xx;
  return e;
}

}  // namespace ptt::server
