// Test signals and measures: synthetic sounds, the test speech, correlation and RMS (every suite).
#pragma once

#include <cstddef>
#include <vector>

#include "ptt/audio_format.hpp"

namespace ptt::test {

constexpr int kRate = ptt::audio_format::kSampleRate;

std::vector<float> sine(float freq_hz, float amplitude, std::size_t samples);
// A sustained synthetic vowel /a/: glottal pulse train at f0 through three formant resonators.
std::vector<float> vowel(float f0_hz, float amplitude, std::size_t samples);
// Deterministic white noise (uniform, flat spectrum) and brown-ish noise (integrated white).
std::vector<float> white_noise(float amplitude, std::size_t samples, unsigned seed = 1);
std::vector<float> brown_noise(float amplitude, std::size_t samples, unsigned seed = 2);
// espeak-ng speech rendered at build time (tests/CMakeLists.txt), 48 kHz mono float.
std::vector<float> speech();

// Normalised cross-correlation of a and b shifted by lag (b[i + lag] against a[i]).
double correlation(const std::vector<float>& a, const std::vector<float>& b, long lag);
// Best normalised cross-correlation over lags in [lo, hi]; lag_out receives the best lag.
double best_correlation(const std::vector<float>& a, const std::vector<float>& b, long lo, long hi,
                        long* lag_out = nullptr);
double rms(const float* x, std::size_t n);
double rms(const std::vector<float>& x);

}  // namespace ptt::test

namespace ptt::test {
// Steady noise limited to [lo_hz, hi_hz] (4th-order), e.g. 300-3000 Hz: noise that looks like
// speech to a spectral test, so only an adaptive noise floor can tell it apart.
std::vector<float> band_noise(float rms_amplitude, std::size_t samples, float lo_hz, float hi_hz, unsigned seed = 3);
// Speech preceded by `lead` samples of silence and followed by `tail` samples of silence.
std::vector<float> padded(const std::vector<float>& x, std::size_t lead, std::size_t tail);
}  // namespace ptt::test
