#include "time_compression.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ptt::server {

int TimeCompression::best_lag(const float* pcm, int max_lag) noexcept {
  max_lag = std::clamp(max_lag, kMinLag, kMaxLag);
  double energy_head = 0;
  for (int i = 0; i < kWindow; ++i) energy_head += static_cast<double>(pcm[i]) * pcm[i];
  int best = kMinLag;
  double best_score = -2;
  // The energy of the compared window, slid along instead of summed again at every lag.
  double energy_lag = 0;
  for (int i = 0; i < kWindow; ++i) energy_lag += static_cast<double>(pcm[kMinLag + i]) * pcm[kMinLag + i];
  for (int lag = kMinLag; lag <= max_lag; ++lag) {
    double cross = 0;
    for (int i = 0; i < kWindow; ++i) cross += static_cast<double>(pcm[i]) * pcm[lag + i];
    const double denominator = std::sqrt(energy_head * energy_lag);
    const double score = denominator > 1e-12 ? cross / denominator : 0.0;
    if (score > best_score) {
      best_score = score;
      best = lag;
    }
    const double leaving = pcm[lag], entering = pcm[lag + kWindow];
    energy_lag += entering * entering - leaving * leaving;
    if (energy_lag < 0) energy_lag = 0;
  }
  return best;
}

int TimeCompression::remove(float* pcm, int size, int lag) noexcept {
  if (lag <= 0 || size < 2 * lag) return size;
  for (int i = 0; i < lag; ++i) {
    const float w = (static_cast<float>(i) + 0.5f) / static_cast<float>(lag);
    pcm[i] = (1.0f - w) * pcm[i] + w * pcm[i + lag];
  }
  std::memmove(pcm + lag, pcm + 2 * lag, static_cast<std::size_t>(size - 2 * lag) * sizeof(float));
  return size - lag;
}

}  // namespace ptt::server
