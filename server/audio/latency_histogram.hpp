// Running distribution of a delay in 1 ms bins (0 to 3 s), filled on the audio thread without
// allocating; median and p99 read from the counts.
#pragma once

#include <array>
#include <cstdint>

namespace ptt::server {

class LatencyHistogram {
 public:
  static constexpr int kBins = 3000;

  void add(std::int64_t delay_us) noexcept {
    const std::int64_t ms = delay_us < 0 ? 0 : delay_us / 1000;
    ++bins_[ms >= kBins ? kBins - 1 : static_cast<std::size_t>(ms)];
    ++count_;
  }
  void reset() noexcept {
    bins_.fill(0);
    count_ = 0;
  }
  std::uint32_t count() const noexcept { return count_; }
  // The q-quantile (0..1) in milliseconds, the upper edge of its bin; -1 when empty.
  double quantile_ms(double q) const noexcept {
    if (count_ == 0) return -1;
    const auto target = static_cast<std::uint64_t>(q * (count_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < kBins; ++i) {
      seen += bins_[static_cast<std::size_t>(i)];
      if (seen >= target) return i + 1;
    }
    return kBins;
  }

 private:
  std::array<std::uint32_t, kBins> bins_{};
  std::uint32_t count_ = 0;
};

}  // namespace ptt::server
