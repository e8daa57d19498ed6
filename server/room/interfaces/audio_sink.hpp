// Where the room sends the floor holder's audio: the playback and recording pipeline. Calls come
// from the room's strand and must not block.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "ptt/level_meter.hpp"
#include "ptt/protocol.hpp"
#include "ptt/server/vocabulary.hpp"

namespace ptt::server {

// One audio packet as it arrived: built once by the room, when the frame is accepted, and the one
// type the audio path passes on, by value where it crosses threads (to the audio thread's jitter
// stage) or by reference (the talk timeline, the recorder). Both times are on the room's clock.
struct AudioPacket {
  protocol::AudioHeader header;  // as sent: talk, sequence, timestamp (48 kHz samples), flags
  std::uint32_t samples = 0;     // duration of the Opus packet in 48 kHz samples
  std::uint16_t size = 0;        // bytes of `opus` used
  ClientId talker = 0;
  TimePoint arrival{};           // when the whole frame had been read (TimePoint{}: unknown)
  TimePoint capture{};           // when the sender captured its first sample (TimePoint{}: unknown)
  std::array<std::uint8_t, protocol::kMaxOpusPacket> opus{};
};

// The packet of a decoded frame (its Opus bytes copied).
inline AudioPacket audio_packet(const protocol::AudioFrameView& frame, ClientId talker, TimePoint arrival,
                                TimePoint capture = {}) noexcept {
  AudioPacket p;
  p.header = frame.header;
  p.samples = frame.samples;
  p.size = static_cast<std::uint16_t>(frame.opus_size < p.opus.size() ? frame.opus_size : p.opus.size());
  p.talker = talker;
  p.arrival = arrival;
  p.capture = capture;
  std::memcpy(p.opus.data(), frame.opus, p.size);
  return p;
}

// The talk now playing, for the professor's console: the audio thread publishes it each callback
// (relaxed atomics, so one reading may mix two callbacks' figures: harmless for a meter).
struct LiveMeter {
  TalkId talk_id = 0;                     // 0: nothing playing
  float level_db = LevelMeter::kFloorDb;  // held peak of what plays, before the professor's volume
  // This talk's packets so far: played on time, and those that came too late for their turn (the
  // speakers played a concealment in their place; some still played after it, the rest were dropped).
  // A gap the sender left on purpose (silence it did not send) is neither.
  std::uint32_t played = 0, late = 0;
  // Feedback from the speakers into this talk's microphone (docs/AUDIO.md): the room's coupling in
  // dB (-99: none seen), whether the talker should be told to step back, and how far the playback
  // is lowered against it (dB, <= 0).
  float feedback_db = -99, lowered_db = 0;
  bool feedback_warning = false;
  int notches = 0;              // ringing tones notched out of the playback
  bool echo_cancelled = false;  // the speakers are being cancelled from the talk
};

class AudioSink {
 public:
  virtual ~AudioSink() = default;
  virtual void talk_started(TalkId talk_id, const std::string& speaker, TimePoint now) = 0;
  virtual void audio(const AudioPacket& packet) = 0;
  virtual void talk_ended(TalkId talk_id, TimePoint now) = 0;
  // The professor's output volume, 0 (muted: talks are still recorded) to 1.
  virtual void set_output_gain(float /*gain*/) {}
  // The talk playing now, for the console's meter (talk_id 0 when nothing measures it: no device).
  virtual LiveMeter live_meter() const { return {}; }
};

}  // namespace ptt::server
