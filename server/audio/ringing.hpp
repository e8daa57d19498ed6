// A howl's other form: when the loop through the room rings at one frequency (a resonance of the
// room, the speakers or a phone's microphone) the speakers play a narrow tone that stays. Live
// sound's automatic feedback suppressors find it and put a narrow notch on it; so does this.
//
// RingingDetector looks at what the speakers played (at 16 kHz), 100 ms at a time (Hann-windowed), through
// Goertzel filters a 24th of an octave apart from 150 Hz to 6 kHz. Each of a window's three
// strongest local maxima is a lone peak when it is above kMinLevelDb, stands kPeakOverMedianDb
// above the median of all filters, and kPeakOverNeighboursDb above the loudest fifth of its neighbourhood (kNeighbourNear
// to kNeighbourFar of it on either side): speech's harmonics come in rows, the next one a pitch
// away as strong, and glide with the pitch; a loop's tone stands alone and stays. A frequency
// (within a filter) that is the lone peak of kSustainWindows of the last eight windows is reported,
// refined to 0.1 % by a finer scan, unless it has siblings a pitch below and above it within
// kSiblingWithinDb, or three other teeth of the comb it would belong to (a formant can lift one
// harmonic far above its siblings): then it is one harmonic of a held note, not a lone tone.
// NotchBank runs the notches on the audio thread.
//
// Both allocate only at construction. The detector runs on one thread (the watchdog); the bank's
// frequencies are set from any thread and read by the audio thread, lock-free.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <vector>

namespace ptt::server {

class RingingDetector {
 public:
  // What was played is low-passed and kept at 16 kHz (every third sample): all a ring below 6 kHz
  // needs, at a third of the cost.
  static constexpr int kDecimation = 3, kRate = 48000 / kDecimation, kTaps = 24;
  static constexpr int kWindow = kRate / 10;  // 100 ms
  static constexpr double kMinHz = 150, kMaxHz = 6000;
  static constexpr int kPerOctave = 24;
  static constexpr double kMinLevelDb = -50;  // the tone's amplitude, dBFS
  static constexpr double kPeakOverMedianDb = 15, kPeakOverNeighboursDb = 8;
  static constexpr double kNeighbourNear = 0.06, kNeighbourFar = 0.3;  // of the peak's frequency
  static constexpr double kSiblingWithinDb = 15;  // harmonics a pitch either side this close: a voice
  static constexpr double kCombWithinDb = 30, kCombDepthDb = 6;  // or three more teeth of its comb
  static constexpr int kSustainWindows = 5;  // of the last 8 (0.8 s)
  static constexpr int kMaxReported = 4;

  RingingDetector();
  // 48 kHz samples as played. Returns the frequency (Hz) of a ring established by them, else 0.
  // A frequency reported is not reported again (within 2 %) until reset().
  double feed(const float* pcm, std::size_t n) noexcept;
  void reset() noexcept;

 private:
  static constexpr std::size_t kPeaksPerWindow = 3;
  using Peaks = std::array<double, kPeaksPerWindow>;  // Hz; 0: none
  void analyse(Peaks& out) noexcept;  // the window's lone peaks among its strongest few
  double level(double hz) const noexcept;  // |Goertzel| at hz over the window, as a sine's dBFS

  std::array<float, kWindow> window_{}, hann_{};
  std::size_t filled_ = 0;
  std::array<float, kTaps> taps_{}, recent_{};  // the low-pass, and the last kTaps input samples
  std::size_t recent_at_ = 0, phase_ = 0;
  std::vector<double> centres_, powers_, sorted_;
  static constexpr int kHistory = 8;
  std::array<Peaks, kHistory> history_{};
  unsigned next_ = 0;
  std::array<double, kMaxReported> reported_{};
  int reported_count_ = 0;
};

class NotchBank {
 public:
  static constexpr int kSlots = RingingDetector::kMaxReported;
  static constexpr double kQ = 8;  // -3 dB width: an eighth of the frequency

  // Any thread: slot's notch at hz, or off (0).
  void set(int slot, float hz) noexcept { hz_[static_cast<std::size_t>(slot)].store(hz, std::memory_order_relaxed); }
  void clear() noexcept {
    for (auto& h : hz_) h.store(0.0f, std::memory_order_relaxed);
  }
  // Any thread: how many notches are on.
  int count() const noexcept {
    int n = 0;
    for (const auto& h : hz_) n += h.load(std::memory_order_relaxed) > 0;
    return n;
  }
  // The audio thread: filters x in place through every notch that is on.
  void process(float* x, std::size_t n) noexcept;

 private:
  struct Section {
    float hz = 0;
    double b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0, z1 = 0, z2 = 0;
  };
  std::array<std::atomic<float>, kSlots> hz_{};
  std::array<Section, kSlots> sections_{};  // the audio thread's
};

}  // namespace ptt::server
