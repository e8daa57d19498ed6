// speexdsp preprocessing: noise is suppressed, quiet speech is raised, and the gain stays bounded.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ptt/level_meter.hpp"
#include "ptt/preprocessor.hpp"
#include "signals.hpp"

namespace t = ptt::test;
using ptt::Preprocessor;
using ptt::PreprocessorConfig;

namespace {

constexpr std::size_t kFrame = ptt::audio_format::kFrameSamples;  // the default frame

std::vector<float> run(Preprocessor& p, std::vector<float> x) {
  const auto n = static_cast<std::size_t>(p.frame_samples());
  x.resize(x.size() / n * n);
  for (std::size_t off = 0; off < x.size(); off += n) p.process(x.data() + off);
  return x;
}

double db(double ratio) { return 20 * std::log10(ratio); }

// The gain control alone, up to max_db of gain.
PreprocessorConfig agc_only(int max_db) {
  PreprocessorConfig c;
  c.denoise = false;
  c.agc_max_gain_db = max_db;
  return c;
}

}  // namespace

TEST(Preprocessor, RejectsUnsupportedFrameSizes) {
  PreprocessorConfig c;
  c.frame_samples = 0;
  EXPECT_FALSE(Preprocessor(c).ok());
  c.frame_samples = 1920;
  EXPECT_FALSE(Preprocessor(c).ok());
  c.frame_samples = 480;
  EXPECT_TRUE(Preprocessor(c).ok());
}

TEST(Preprocessor, SuppressesSteadyNoise) {
  PreprocessorConfig c;
  c.agc = false;
  Preprocessor p(c);
  ASSERT_TRUE(p.ok());
  const auto in = t::white_noise(0.05f, t::kRate * 3);
  const auto out = run(p, in);
  const std::size_t last_second = out.size() - t::kRate;
  const double reduction =
      db(t::rms(in.data() + last_second, t::kRate) / t::rms(out.data() + last_second, t::kRate));
  RecordProperty("reduction_db", std::to_string(reduction));
  EXPECT_GT(reduction, 10.0);
}

TEST(Preprocessor, KeepsSpeechWhileRemovingNoise) {
  PreprocessorConfig c;
  c.agc = false;
  Preprocessor p(c);
  const auto s = t::speech();
  const std::size_t lead = t::kRate;
  auto mix = t::white_noise(0.01f, lead + s.size());
  for (std::size_t i = 0; i < s.size(); ++i) mix[lead + i] += s[i];
  const auto out = run(p, mix);
  // The output still carries the speech: it correlates with the clean speech better than the noisy input does.
  std::vector<float> clean(lead, 0.0f);
  clean.insert(clean.end(), s.begin(), s.end());
  clean.resize(out.size());
  // speexdsp's overlap-add delays the output by exactly one frame (a latency cost: see docs/AUDIO.md).
  long lag = 0;
  const double c_out = t::best_correlation(clean, out, 0, 2000, &lag);
  EXPECT_EQ(lag, p.delay_samples());
  EXPECT_GT(c_out, 0.9);
  EXPECT_GT(c_out, t::correlation(clean, mix, 0) - 0.05);
}

TEST(Preprocessor, AgcRaisesQuietSpeechWithinItsBound) {
  Preprocessor p(agc_only(18));
  auto s = t::speech();
  for (auto& v : s) v *= 0.03f;  // about -30 dB
  std::vector<float> in;
  for (int i = 0; i < 3; ++i) in.insert(in.end(), s.begin(), s.end());
  const auto out = run(p, in);
  const std::size_t last = out.size() - s.size() / kFrame * kFrame;
  const double gain = db(t::rms(out.data() + last, out.size() - last) / t::rms(in.data() + last, out.size() - last));
  RecordProperty("gain_db", std::to_string(gain));
  EXPECT_GT(gain, 6.0);
  EXPECT_LT(gain, 18.0 + 1.0);
  EXPECT_LE(p.agc_gain_db(), 18.0f + 0.5f);
}

TEST(Preprocessor, AgcRespectsASmallerBound) {
  Preprocessor p(agc_only(6));
  auto s = t::speech();
  for (auto& v : s) v *= 0.01f;
  std::vector<float> in;
  for (int i = 0; i < 3; ++i) in.insert(in.end(), s.begin(), s.end());
  const auto out = run(p, in);
  const std::size_t last = out.size() - s.size() / kFrame * kFrame;
  const double gain = db(t::rms(out.data() + last, out.size() - last) / t::rms(in.data() + last, out.size() - last));
  EXPECT_LT(gain, 6.0 + 1.0);
}

// The server hears its speakers in this microphone and lowers its playback: a held gain control
// may not raise its gain to make up for it; restored, it may again.
TEST(Preprocessor, AHeldGainIsNotRaisedByQuieterInputUntilRestored) {
  Preprocessor p(agc_only(18));
  auto s = t::speech();
  std::vector<float> loud, quiet;
  for (auto& v : s) v *= 0.3f;
  for (int i = 0; i < 2; ++i) loud.insert(loud.end(), s.begin(), s.end());
  for (auto v : loud) quiet.push_back(v * 0.03f);  // 30 dB quieter: the speakers turned down
  run(p, loud);
  const float held = p.agc_gain_db();
  p.hold_agc_gain();
  run(p, quiet);
  EXPECT_LE(p.agc_gain_db(), std::max(held, 0.0f) + 0.5f) << "held at " << held << " dB";
  p.restore_agc_gain();
  run(p, quiet);
  run(p, quiet);
  EXPECT_GT(p.agc_gain_db(), std::max(held, 0.0f) + 6.0f) << "restored: the quiet input is raised again";
}
