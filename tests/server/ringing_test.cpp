// The ringing detector and the notches: a loop ringing at one frequency is found within its
// sustain time and notched out; speech, a held vowel, a whistle that glides and a short tone are
// not mistaken for it; the notch takes the tone and leaves the rest.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numbers>
#include <vector>

#include "ringing.hpp"
#include "signals.hpp"

namespace ptt::server {
namespace {

namespace t = ptt::test;
constexpr int kRate = 48000, kBlock = 240;  // the device's 5 ms callbacks

// Feeds x in callback-sized blocks; returns the first frequency reported and when (seconds), or 0.
std::pair<double, double> first_ring(RingingDetector& d, const std::vector<float>& x) {
  for (std::size_t at = 0; at + kBlock <= x.size(); at += kBlock)
    if (const double hz = d.feed(x.data() + at, kBlock); hz > 0) return {hz, static_cast<double>(at + kBlock) / kRate};
  return {0, 0};
}

std::vector<float> mix(std::vector<float> a, const std::vector<float>& b) {
  a.resize(std::max(a.size(), b.size()));
  for (std::size_t i = 0; i < b.size(); ++i) a[i] += b[i];
  return a;
}

// A loop ringing at hz: a tone growing from -40 dBFS to -6 dBFS over `seconds`.
std::vector<float> howl(double hz, double seconds) {
  std::vector<float> x(static_cast<std::size_t>(seconds * kRate));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double s = static_cast<double>(i) / kRate;
    x[i] = static_cast<float>(std::pow(10.0, (-40 + 34 * s / seconds) / 20) * std::sin(2 * std::numbers::pi * hz * s));
  }
  return x;
}

// RMS of x at hz (a Goertzel over [from, to)), relative to a full-scale sine there, in dB.
double tone_db(const std::vector<float>& x, double hz, std::size_t from, std::size_t to) {
  const double w = 2 * std::numbers::pi * hz / kRate, c = 2 * std::cos(w);
  double s1 = 0, s2 = 0;
  for (std::size_t i = from; i < to; ++i) {
    const double s0 = x[i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return 20 * std::log10(std::sqrt(std::max(1e-30, s1 * s1 + s2 * s2 - c * s1 * s2)) / ((to - from) / 2.0));
}

TEST(RingingDetector, ALoopRingingUnderSpeechIsFoundAtItsFrequencyWhileQuieterThanTheSpeech) {
  for (const double hz : {312.0, 1000.0, 2480.0}) {
    RingingDetector d;
    const auto speech = t::speech();
    const auto x = mix(speech, howl(hz, 3.0));
    const auto [found, at] = first_ring(d, x);
    EXPECT_NEAR(found, hz, 0.003 * hz) << hz << " Hz";
    // Found while the tone is still quieter than the speech over it.
    const double tone_rms_db = -40 + 34 * at / 3.0 - 3.0, speech_rms_db = 20 * std::log10(t::rms(speech));
    std::printf("%.0f Hz: found after %.1f s, the tone %.1f dB against the speech\n", hz, at, tone_rms_db - speech_rms_db);
    EXPECT_GT(at, 0.0);
    EXPECT_LT(tone_rms_db, speech_rms_db) << hz << " Hz found after " << at << " s";
    // Reported once: the rest of the howl says nothing new.
    EXPECT_EQ(first_ring(d, howl(hz, 2.0)).first, 0.0);
  }
}

TEST(RingingDetector, SpeechHeldVowelsNoiseAGlidingWhistleAndAShortBeepAreNotRinging) {
  RingingDetector d;
  auto speech = t::speech();
  for (auto& v : speech) v *= 3.0f;  // loud
  EXPECT_EQ(first_ring(d, speech).first, 0.0) << "speech";
  for (const float f0 : {100.0f, 140.0f, 220.0f}) {
    d.reset();
    EXPECT_EQ(first_ring(d, t::vowel(f0, 0.5f, 3 * kRate)).first, 0.0) << "a vowel held at " << f0 << " Hz";
  }
  d.reset();
  EXPECT_EQ(first_ring(d, t::band_noise(0.1f, 3 * kRate, 300, 3000)).first, 0.0) << "noise in the speech band";
  d.reset();
  EXPECT_EQ(first_ring(d, t::white_noise(0.1f, 3 * kRate)).first, 0.0) << "white noise";
  d.reset();
  std::vector<float> glide(3 * kRate);
  double phase = 0;
  for (std::size_t i = 0; i < glide.size(); ++i) {  // 800 Hz to 1.6 kHz in 3 s: a whistle, not a loop
    phase += 2 * std::numbers::pi * 800 * std::exp2(static_cast<double>(i) / glide.size()) / kRate;
    glide[i] = static_cast<float>(0.3 * std::sin(phase));
  }
  EXPECT_EQ(first_ring(d, glide).first, 0.0) << "a gliding whistle";
  d.reset();
  auto beep = t::padded(t::sine(1000, 0.3f, kRate * 3 / 10), kRate, kRate);  // 300 ms
  EXPECT_EQ(first_ring(d, mix(speech, beep)).first, 0.0) << "a short beep";
  d.reset();
  EXPECT_EQ(first_ring(d, t::sine(1000, 0.001f, 3 * kRate)).first, 0.0) << "a tone below -50 dBFS";
}

TEST(NotchBank, ANotchTakesTheToneAndLeavesTheSpeech) {
  NotchBank bank;
  const auto speech = t::speech();
  auto x = mix(speech, t::sine(1000, 0.3f, speech.size()));
  std::vector<float> off = x;
  bank.process(off.data(), off.size());
  EXPECT_EQ(off, x) << "no notch set: nothing changes";
  bank.set(0, 1000.0f);
  for (std::size_t at = 0; at < x.size(); at += kBlock) bank.process(x.data() + at, std::min<std::size_t>(kBlock, x.size() - at));
  const std::size_t from = kRate / 10;  // past the notch's own start
  const double before = tone_db(off, 1000, from, off.size()), after = tone_db(x, 1000, from, x.size());
  RecordProperty("tone_cut_db", std::to_string(before - after));
  EXPECT_GT(before - after, 30.0) << before << " -> " << after << " dB";
  // What is left is the speech: against the speech alone, the notched signal correlates well.
  const std::vector<float> rest(x.begin() + static_cast<long>(from), x.end());
  const std::vector<float> clean(speech.begin() + static_cast<long>(from), speech.end());
  EXPECT_GT(t::correlation(clean, rest, 0), 0.9);
  // An octave away, a tone passes within 1 dB.
  for (const double hz : {500.0, 2000.0}) {
    NotchBank one;
    one.set(0, 1000.0f);
    auto s = t::sine(static_cast<float>(hz), 0.3f, kRate);
    const double in = tone_db(s, hz, kRate / 10, s.size());
    one.process(s.data(), s.size());
    EXPECT_NEAR(tone_db(s, hz, kRate / 10, s.size()), in, 1.0) << hz << " Hz";
  }
  // Cleared, the bank passes everything again.
  bank.clear();
  auto y = speech;
  bank.process(y.data(), y.size());
  EXPECT_EQ(y, speech);
}

}  // namespace
}  // namespace ptt::server
