// The voice-activity detector on speech, silence, steady noise and speech in noise.
#include <gtest/gtest.h>

#include <vector>

#include "ptt/level_meter.hpp"
#include "ptt/vad.hpp"
#include "signals.hpp"

namespace t = ptt::test;
using ptt::VoiceActivityDetector;

namespace {

constexpr std::size_t kFrame = ptt::audio_format::kFrameSamples;  // as the client runs it

std::vector<bool> classify(VoiceActivityDetector& vad, const std::vector<float>& x) {
  std::vector<bool> out;
  for (std::size_t off = 0; off + kFrame <= x.size(); off += kFrame) out.push_back(vad.process(x.data() + off, kFrame));
  return out;
}

double active_fraction(const std::vector<bool>& d, std::size_t from, std::size_t to) {
  std::size_t n = 0, on = 0;
  for (std::size_t i = from; i < to && i < d.size(); ++i, ++n) on += d[i];
  return n ? static_cast<double>(on) / static_cast<double>(n) : 0.0;
}

// Ground truth for clean speech: frames whose level is within 30 dB of the loudest frame.
std::vector<bool> loud_frames(const std::vector<float>& x) {
  std::vector<float> levels;
  float peak = -200;
  for (std::size_t off = 0; off + kFrame <= x.size(); off += kFrame) {
    levels.push_back(ptt::to_db(static_cast<float>(t::rms(x.data() + off, kFrame))));
    peak = std::max(peak, levels.back());
  }
  std::vector<bool> truth;
  for (float l : levels) truth.push_back(l > peak - 30);
  return truth;
}

double recall(const std::vector<bool>& decisions, const std::vector<bool>& truth, std::size_t offset = 0) {
  std::size_t positives = 0, hits = 0;
  for (std::size_t i = 0; i < truth.size() && i + offset < decisions.size(); ++i) {
    if (!truth[i]) continue;
    ++positives;
    hits += decisions[i + offset];
  }
  return positives ? static_cast<double>(hits) / static_cast<double>(positives) : 0.0;
}

}  // namespace

TEST(Vad, DigitalSilenceIsNeverSpeech) {
  VoiceActivityDetector vad;
  const auto d = classify(vad, std::vector<float>(t::kRate * 2, 0.0f));
  EXPECT_EQ(active_fraction(d, 0, d.size()), 0.0);
}

TEST(Vad, QuietRoomNoiseIsNeverSpeech) {
  VoiceActivityDetector vad;
  const auto d = classify(vad, t::band_noise(0.0003f, t::kRate * 3, 300, 3000));  // about -70 dBFS
  EXPECT_EQ(active_fraction(d, 0, d.size()), 0.0);
}

TEST(Vad, DetectsSpeech) {
  VoiceActivityDetector vad;
  const auto s = t::speech();
  const auto d = classify(vad, t::padded(s, t::kRate / 2, t::kRate / 2));
  const double r = recall(d, loud_frames(s), t::kRate / 2 / kFrame);
  RecordProperty("recall", std::to_string(r));
  EXPECT_GT(r, 0.9);
  // The half second of silence before the speech stays silent.
  EXPECT_EQ(active_fraction(d, 0, t::kRate / 2 / kFrame), 0.0);
}

TEST(Vad, DetectsQuietSpeech) {
  VoiceActivityDetector vad;
  auto s = t::speech();
  for (auto& v : s) v *= 0.05f;  // -26 dB
  const auto d = classify(vad, t::padded(s, t::kRate / 2, 0));
  EXPECT_GT(recall(d, loud_frames(s), t::kRate / 2 / kFrame), 0.85);
}

// Steady noise that starts together with the detector can pass for speech only until the first
// 150 ms block of the floor tracker is complete, plus the hangover: the documented learning time is 0.5 s.
constexpr std::size_t kLearnFrames = t::kRate / 2 / kFrame;

TEST(Vad, SteadyBroadbandHissIsNotSpeech) {
  VoiceActivityDetector vad;
  const auto d = classify(vad, t::white_noise(0.05f, t::kRate * 4));
  EXPECT_LT(active_fraction(d, 0, d.size()), 0.02);  // rejected by the spectral cue from the start
}

TEST(Vad, SteadyLowRumbleIsNotSpeechAfterLearning) {
  VoiceActivityDetector vad;
  const auto d = classify(vad, t::brown_noise(0.3f, t::kRate * 4));
  EXPECT_EQ(active_fraction(d, kLearnFrames, d.size()), 0.0);
}

TEST(Vad, SteadySpeechBandNoiseBecomesTheFloor) {
  // Noise shaped like speech passes the spectral test; the adaptive floor must learn it.
  VoiceActivityDetector vad;
  const auto d = classify(vad, t::band_noise(0.03f, t::kRate * 5, 300, 3000));
  EXPECT_LT(active_fraction(d, kLearnFrames, d.size()), 0.02);
  EXPECT_GT(vad.noise_floor_db(), -45.0f);
}

TEST(Vad, DetectsSpeechInSteadyNoise) {
  VoiceActivityDetector vad;
  const auto s = t::speech();
  const std::size_t lead = 2 * t::kRate;
  auto noise = t::band_noise(0.01f, lead + s.size(), 300, 3000);
  auto mix = noise;
  for (std::size_t i = 0; i < s.size(); ++i) mix[lead + i] += s[i];
  const auto d = classify(vad, mix);
  EXPECT_LT(active_fraction(d, kLearnFrames, lead / kFrame), 0.02);  // the noise alone
  EXPECT_GT(recall(d, loud_frames(s), lead / kFrame), 0.75);
}

TEST(Vad, ASingleClickIsNotSpeech) {
  VoiceActivityDetector vad;
  std::vector<float> x(t::kRate, 0.0f);
  const auto burst = t::vowel(150, 0.5f, 480);  // 10 ms
  std::copy(burst.begin(), burst.end(), x.begin() + 24000);
  const auto d = classify(vad, x);
  EXPECT_EQ(active_fraction(d, 0, d.size()), 0.0);
}

TEST(Vad, HangoverBridgesShortPausesThenEnds) {
  VoiceActivityDetector vad;
  const auto v = t::vowel(140, 0.3f, t::kRate / 2);
  std::vector<float> x(t::kRate / 2, 0.0f);
  x.insert(x.end(), v.begin(), v.end());
  x.insert(x.end(), t::kRate, 0.0f);
  const auto d = classify(vad, x);
  const std::size_t end = t::kRate / kFrame;  // frame where the vowel stops
  EXPECT_TRUE(d[end - 1]);
  EXPECT_TRUE(d[end + 10]);   // 200 ms later: still within the 300 ms hangover
  EXPECT_FALSE(d[end + 20]);  // 400 ms later: released
  EXPECT_FALSE(d.back());
}

TEST(Vad, ResetForgetsTheNoiseFloor) {
  VoiceActivityDetector vad;
  classify(vad, t::band_noise(0.03f, t::kRate * 3, 300, 3000));
  const float learned = vad.noise_floor_db();
  vad.reset();
  EXPECT_LT(vad.noise_floor_db(), learned - 10);
  EXPECT_FALSE(vad.active());
}
