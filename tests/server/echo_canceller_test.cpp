// The echo canceller: what the speakers played comes back in the student's talk through a room
// (a delay and a gain) and through Opus, as it does through a student's page; the canceller,
// given the played signal and the room's delay as the estimator finds it (give or take its error),
// takes it out and leaves the student's own voice.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "echo_canceller.hpp"
#include "ptt/codec.hpp"
#include "signals.hpp"

namespace ptt::server {
namespace {

namespace t = ptt::test;
constexpr int kRate = 48000, kPacket = 960;  // the page's 20 ms packets

// The test voice from `offset_s` in, looped, `seconds` long, at `gain`.
std::vector<float> voice(double offset_s, double seconds, float gain) {
  const auto s = t::speech();
  std::vector<float> out(static_cast<std::size_t>(seconds * kRate));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = gain * s[(i + static_cast<std::size_t>(offset_s * kRate)) % s.size()];
  return out;
}

// Through Opus as a page sends it and the server decodes it; the output lags by the encoder's delay.
std::vector<float> through_opus(const std::vector<float>& x, int* delay) {
  codec::Encoder enc;
  codec::Decoder dec;
  *delay = enc.lookahead();
  std::vector<float> out(x.size());
  std::vector<std::uint8_t> packet(audio_format::kMaxOpusPacket);
  for (std::size_t at = 0; at + kPacket <= x.size(); at += kPacket) {
    const int n = enc.encode(x.data() + at, packet.data(), packet.size());
    dec.decode(packet.data(), static_cast<std::size_t>(n), out.data() + at, kPacket);
  }
  return out;
}

struct Room {
  std::vector<float> played, student, sent;  // sent: through Opus, `delay` samples behind played
  int delay = 0;                             // the whole way back, in samples: the room's and Opus's
};

// What the speakers play (the lecture's other voice), and what the student's page sends: the
// student's own voice (silent if student_gain is 0) and the room's copy of what was played,
// `room_ms` late at `room_db`.
Room room(double seconds, int room_ms, double room_db, float student_gain) {
  Room r;
  r.played = voice(0.0, seconds, 0.3f);
  r.student = voice(2.7, seconds, student_gain);
  const double g = std::pow(10.0, room_db / 20);
  const auto d = static_cast<std::size_t>(room_ms * kRate / 1000);
  std::vector<float> mic(r.played.size());
  for (std::size_t i = 0; i < mic.size(); ++i) mic[i] = r.student[i] + (i >= d ? static_cast<float>(g * r.played[i - d]) : 0.0f);
  int opus_delay = 0;
  r.sent = through_opus(mic, &opus_delay);
  r.delay = static_cast<int>(d) + opus_delay;
  return r;
}

// Runs the canceller over what was sent as the server would, 20 ms at a time (each packet after
// the played audio of its time), told that the echo comes `assumed_delay` samples late.
std::vector<float> cancel(EchoCanceller& c, const Room& r, int assumed_delay) {
  std::vector<float> out = r.sent;
  for (std::size_t at = 0; at + kPacket <= out.size(); at += kPacket) {
    c.played(r.played.data() + at, kPacket);
    c.cancel(out.data() + at, kPacket, static_cast<std::int64_t>(at) - assumed_delay);
  }
  return out;
}

double power_db(const std::vector<float>& x, std::size_t from, std::size_t to) {
  double e = 0;
  for (std::size_t i = from; i < to; ++i) e += static_cast<double>(x[i]) * x[i];
  return 10 * std::log10(std::max(e / static_cast<double>(to - from), 1e-20));
}

// The echo alone (the student silent), at a loop's worth of coupling: after two seconds of
// learning, the canceller takes it down by more than 10 dB (Opus's coding noise, at the page's
// 24 kb/s, is not the played signal's and stays), with the estimator's delay exact or
// off by as much as it errs (10 ms either way).
TEST(EchoCanceller, TakesTheSpeakersOutOfTheTalkWithTheDelayGivenOrTakeTheEstimatorsError) {
  const Room r = room(8.0, 180, -3.0, 0.0f);
  const std::size_t from = 3 * kRate, to = r.sent.size();
  for (const int error_ms : {0, -10, 10}) {
    EchoCanceller c;
    const auto out = cancel(c, r, r.delay + error_ms * kRate / 1000);
    const double in_db = power_db(r.sent, from, to), out_db = power_db(out, from, to);
    std::printf("delay off by %+d ms: echo %.1f dBFS in, %.1f dBFS out (%.1f dB taken out; found at %.1f dB)\n", error_ms, in_db,
                out_db, in_db - out_db, c.found_db());
    EXPECT_GT(in_db - out_db, 10.0) << "off by " << error_ms << " ms";
    EXPECT_NEAR(c.found_db(), -3.0, 4.0) << "the room's coupling, as the canceller found it over the talk (learning included)";
  }
}

// The student talks over the echo: what is left is the student's voice (its correlation with the
// voice alone, sent through Opus the same way, rises well above what came in), and the echo in it
// falls by more than 10 dB.
TEST(EchoCanceller, TheStudentsVoiceIsKeptWhileTheEchoGoes) {
  const Room r = room(8.0, 180, -3.0, 0.3f);
  int opus_delay = 0;
  const auto voice_alone = through_opus(r.student, &opus_delay);
  EchoCanceller c;
  const auto out = cancel(c, r, r.delay);
  const std::size_t from = 3 * kRate, to = r.sent.size() - kPacket;
  const std::vector<float> in_tail(r.sent.begin() + static_cast<long>(from), r.sent.begin() + static_cast<long>(to)),
      out_tail(out.begin() + static_cast<long>(from), out.begin() + static_cast<long>(to)),
      voice_tail(voice_alone.begin() + static_cast<long>(from), voice_alone.begin() + static_cast<long>(to));
  const double in_corr = t::correlation(voice_tail, in_tail, 0), out_corr = t::correlation(voice_tail, out_tail, 0);
  // The echo's gain in each: the least-squares share of what was played, as late as the room.
  const auto echo_db = [&](const std::vector<float>& x) {
    double xp = 0, pp = 0;
    for (std::size_t i = from; i < to; ++i) {
      const double p = r.played[i - static_cast<std::size_t>(r.delay)];
      xp += x[i] * p;
      pp += p * p;
    }
    return 20 * std::log10(std::max(std::abs(xp / pp), 1e-6));
  };
  std::printf("correlation with the student's voice: %.3f in, %.3f out; the echo at %.1f dB in, %.1f dB out\n", in_corr, out_corr,
              echo_db(r.sent), echo_db(out));
  EXPECT_GT(out_corr, 0.85);
  EXPECT_GT(out_corr, in_corr + 0.05);
  EXPECT_LT(echo_db(out), echo_db(r.sent) - 10);
}

// speexdsp's canceller first takes DC and the lowest rumble out of what comes in (a notch at 0 Hz,
// pole radius 0.992 at 48 kHz: -3 dB near 60 Hz, below any voice); the same filter, for comparing.
std::vector<float> dc_notched(const std::vector<float>& x) {
  const double r = 0.992, den2 = r * r + 0.7 * (1 - r) * (1 - r);
  double m0 = 0, m1 = 0;
  std::vector<float> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double vin = x[i], vout = m0 + vin;
    m0 = m1 + 2 * (-vin + r * vout);
    m1 = vin - den2 * vout;
    y[i] = static_cast<float>(r * vout);
  }
  return y;
}

// Nothing of what was played comes back (a phone far from the speakers): the talk passes
// unchanged but for that rumble filter, within what a 16-bit path costs.
TEST(EchoCanceller, ATalkWithNoEchoPassesUnchanged) {
  const Room r = room(6.0, 180, -99.0, 0.3f);
  EchoCanceller c;
  const auto out = cancel(c, r, r.delay);
  const auto expected = dc_notched(r.sent);
  std::vector<float> diff(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) diff[i] = out[i] - expected[i];
  const double signal_db = power_db(r.sent, kRate, out.size()), diff_db = power_db(diff, kRate, out.size());
  std::printf("talk %.1f dBFS, changed by %.1f dBFS; speakers found at %.1f dB\n", signal_db, diff_db, c.found_db());
  EXPECT_LT(diff_db, signal_db - 25);
  EXPECT_LT(c.found_db(), -25.0);
}

// A hostile talk: full scale, and the speakers playing it back at full scale. speexdsp gives up on
// a frame whose echo estimate would exceed its range (it mutes it, and after 50 in a row writes to
// stderr from the audio thread); the canceller leaves it the headroom, so no frame is muted.
TEST(EchoCanceller, AFullScaleTalkAndReferenceAreNeverMuted) {
  std::vector<float> played(4 * kRate), sent(played.size());
  for (std::size_t i = 0; i < played.size(); ++i) played[i] = (i % 2 ? 1.0f : -1.0f);
  const auto d = static_cast<std::size_t>(100 * kRate / 1000);
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = i >= d ? played[i - d] : 1.0f;
  EchoCanceller c;
  int muted = 0, frames = 0;
  for (std::size_t at = 0; at + kPacket <= sent.size(); at += kPacket) {
    c.played(played.data() + at, kPacket);
    if (!c.cancel(sent.data() + at, kPacket, static_cast<std::int64_t>(at) - static_cast<std::int64_t>(d))) continue;
    for (int f = 0; f < kPacket; f += EchoCanceller::kFrame, ++frames) {
      double e = 0;
      for (int i = 0; i < EchoCanceller::kFrame; ++i) e += std::abs(sent[at + static_cast<std::size_t>(f + i)]);
      muted += e == 0;
    }
  }
  std::printf("%d of %d frames muted\n", muted, frames);
  EXPECT_GT(frames, 300);
  EXPECT_EQ(muted, 0);
}

// A reference not played yet, or too long ago for the history, is not made up: the talk passes
// untouched and the call says so.
TEST(EchoCanceller, AReferenceOutsideTheHistoryLeavesTheTalkUntouched) {
  EchoCanceller c;
  std::vector<float> played(kPacket, 0.1f), pcm(kPacket, 0.2f);
  c.played(played.data(), played.size());
  EXPECT_FALSE(c.cancel(pcm.data(), kPacket, -kRate / 10));  // before the first sample played
  EXPECT_FALSE(c.cancel(pcm.data(), kPacket, 0));  // with the lead, reaching past what was played
  for (int i = 0; i < 3 * kRate / kPacket; ++i) c.played(played.data(), played.size());
  EXPECT_FALSE(c.cancel(pcm.data(), kPacket, kPacket));  // overwritten
  EXPECT_FALSE(c.cancel(pcm.data(), 100, c.played_position() - kRate / 2));  // not whole frames
  for (const float v : pcm) ASSERT_EQ(v, 0.2f);
  EXPECT_TRUE(c.cancel(pcm.data(), kPacket, c.played_position() - kRate / 2));
}

}  // namespace
}  // namespace ptt::server
