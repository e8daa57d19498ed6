// How much of what the speakers play comes back in the talking student's microphone, and how late:
// the room's acoustic coupling, estimated from the two signals the server already has. What it
// played (after the professor's volume and any protection), dated when it left the speaker, and
// what the student sent (decoded, before any gain), dated when it entered the student's page. A
// phone near the speakers sends x(t) = s(t) + g p(t - d): its own voice plus the room's copy of
// what was played d ago. The estimator finds d and g by least squares over the last second:
// g = <x(t), p(t-d)> / <p(t-d), p(t-d)>, at the d where the normalised correlation peaks. The
// student's own voice does not correlate with what was played d ago (a speech waveform forgets
// itself within milliseconds), so g is the room's (and the student's page's) gain alone.
//
// Both signals are low-passed (1 kHz) and kept at 2 kHz, on two timelines indexed by the room's
// clock; the correlation is over lags kMinDelayMs to kMaxDelayMs. Lags below 0 are excluded anyway:
// there the played signal is the same talk delayed by the server's own pipeline, not the room.
//
// Fed from one thread (the watchdog, which drains what the audio thread hands it); no locks, no
// allocation after construction.
#pragma once

#include <array>
#include <utility>
#include <cstdint>

namespace ptt::server {

class FeedbackEstimator {
 public:
  static constexpr int kRate = 2000;   // analysis rate, Hz
  static constexpr int kDecimation = 24;  // from 48 kHz
  static constexpr int kWindowMs = 1000, kMaxDelayMs = 500;
  // No way back from the speakers through a browser to the server is shorter: the page's audio
  // graph and the network alone take more (60 ms and up on the rig). Shorter lags are where the
  // played talk's own copy shows when datings are off, so they are not looked at.
  static constexpr int kMinDelayMs = 30;
  // The played signal's power at the lag may be at most this far under the captured (25 dB).
  static constexpr double kQuietestPlayed = 316.0;
  // The timelines cover the window, the longest lag and a second of slack for late-dated audio.
  static constexpr int kHistory = (kWindowMs + kMaxDelayMs + 1000) * kRate / 1000;

  struct Estimate {
    bool valid = false;       // enough of both signals, and a correlation clear of chance
    double coupling_db = -99;  // 20 log10 g
    double delay_ms = 0;       // d: speaker to the student's page
    double correlation = 0;    // normalised, at d
  };

  // 48 kHz samples, their place in their own stream (`position`: a running sample count for what
  // was played; the talk's timestamp for what came in), and the room clock's time of the first, in
  // microseconds: when it was heard; when its packet arrived at the server. A waveform correlation
  // needs each stream's samples kept contiguous, so a stream is placed by one offset from
  // position to time, not by each dating (they jitter). What was played is placed by its first
  // dating, and again whenever one strays by more than datings jitter (the stream stopped for a
  // while: a frozen process, a device that ran dry). What came in is placed by its earliest
  // arrival: packets leave the browser in bursts and a stalled sender catches up late, but none
  // arrives before its time. (Arrival, not the sender's capture time: the server's own clock, which
  // no client can skew.)
  void played(const float* pcm, int n, std::int64_t position, std::int64_t first_us) noexcept {
    feed(played_, pcm, n, position, first_us);
  }
  void captured(const float* pcm, int n, std::int64_t position, std::int64_t arrival_us) noexcept {
    feed(captured_, pcm, n, position, arrival_us);
  }

  // Over the second before the latest captured audio.
  Estimate estimate() const noexcept;
  // Where the room's copy of what was played sits in what came in, for a coupling `delay_ms` late:
  // captured position + this = the played position it carries back. False until both streams are
  // placed. It follows the streams' placings (a device that ran dry re-places what was played).
  bool echo_offset(double delay_ms, std::int64_t& offset) const noexcept {
    if (!played_.anchored || !captured_.anchored) return false;
    offset = captured_.offset - played_.offset - static_cast<std::int64_t>(delay_ms * 48);
    return true;
  }
  // Lags within 5 ms of this delay are not looked at again until reset() (it was shown not to be
  // the room's: see Playback). At most kMaxExcluded; more replace the oldest.
  void exclude(double delay_ms) noexcept;
  void reset() noexcept;
  static constexpr int kMaxExcluded = 4;

 private:
  struct Biquad {
    double b0, b1, b2, a1, a2;
    double z1 = 0, z2 = 0;
    double run(double x) noexcept {
      const double y = b0 * x + z1;
      z1 = b1 * x - a1 * y + z2;
      z2 = b2 * x - a2 * y;
      return y;
    }
  };
  struct Timeline {
    std::array<float, kHistory> x{};
    std::array<bool, kHistory> has{};
    std::array<Biquad, 2> lowpass{};  // 4th-order Butterworth at 1 kHz, 48 kHz
    bool anchored = false;
    bool earliest = false;            // placed by the earliest dating (what came in), else re-placed when one strays
    std::int64_t offset = 0;          // 48 kHz samples: room clock position = stream position + offset
    std::int64_t latest = -1;         // the newest 2 kHz index written
  };
  static void feed(Timeline& t, const float* pcm, int n, std::int64_t position, std::int64_t first_us) noexcept;
  static void init(Timeline& t) noexcept;

  Timeline played_{}, captured_{};
  std::array<int, kMaxExcluded> excluded_{};  // lags, in 2 kHz samples; -1: none
  int next_excluded_ = 0;
  // estimate()'s scratch: the captured window and the played span its lags reach.
  mutable std::array<float, kWindowMs * kRate / 1000> x_{};
  mutable std::array<float, (kWindowMs + kMaxDelayMs) * kRate / 1000 + 1> p_{};

 public:
  FeedbackEstimator() noexcept { reset(); }
};

// One estimate can be fooled: a steady voice resembles itself a few hundred ms later, and the
// played signal is the talk itself, delayed. A room's coupling holds from one look to the next;
// such a resemblance rarely does. So the coupling acted on is the median of the last kLooks
// estimates (one not valid counts as none: -99 dB).
class CouplingTracker {
 public:
  static constexpr int kLooks = 3;
  struct Decision {
    double coupling_db = -99, delay_ms = 0;
  };
  Decision update(const FeedbackEstimator::Estimate& e) noexcept {
    looks_[static_cast<std::size_t>(next_)] = e.valid ? Decision{e.coupling_db, e.delay_ms} : Decision{};
    next_ = (next_ + 1) % kLooks;
    auto sorted = looks_;
    for (int i = 1; i < kLooks; ++i)  // insertion sort by coupling: three elements
      for (int j = i; j > 0 && sorted[static_cast<std::size_t>(j)].coupling_db < sorted[static_cast<std::size_t>(j - 1)].coupling_db; --j)
        std::swap(sorted[static_cast<std::size_t>(j)], sorted[static_cast<std::size_t>(j - 1)]);
    return sorted[kLooks / 2];
  }
  void reset() noexcept { *this = CouplingTracker{}; }

 private:
  std::array<Decision, kLooks> looks_{};
  int next_ = 0;
};

}  // namespace ptt::server
