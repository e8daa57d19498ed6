// Test doubles for the room: a peer that keeps what it was sent, and an audio sink that counts.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audio_sink.hpp"
#include "peer.hpp"
#include "ptt/protocol.hpp"

namespace ptt::server::test {

struct FakePeer : Peer {
  std::vector<protocol::ControlMessage> received;
  std::optional<std::uint16_t> closed;
  std::string close_reason;

  void send(std::shared_ptr<const std::string> text) override {
    protocol::ControlMessage m;
    std::string detail;
    if (protocol::decode_control(*text, m, &detail) != protocol::ErrorCode::ok)
      throw std::runtime_error("server sent an invalid message: " + *text + " (" + detail + ")");
    received.push_back(std::move(m));
  }
  void close(std::uint16_t code, std::string_view reason) override {
    closed = code;
    close_reason = reason;
  }

  template <typename T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& m : received)
      if (auto* p = std::get_if<T>(&m)) out.push_back(*p);
    return out;
  }
  template <typename T>
  std::optional<T> last() const {
    for (auto it = received.rbegin(); it != received.rend(); ++it)
      if (auto* p = std::get_if<T>(&*it)) return *p;
    return std::nullopt;
  }
  void clear() { received.clear(); }
};

struct CountingSink : AudioSink {
  struct Frame {
    TalkId talk_id;
    std::uint16_t sequence;
    ClientId talker;
    TimePoint arrival, capture;
  };
  std::vector<std::uint32_t> started, ended;
  std::vector<std::string> speakers;
  std::vector<Frame> frames;

  void talk_started(TalkId talk_id, const std::string& speaker, TimePoint) override {
    started.push_back(talk_id);
    speakers.push_back(speaker);
  }
  void audio(const AudioPacket& p) override {
    frames.push_back({p.header.talk_id, p.header.sequence, p.talker, p.arrival, p.capture});
  }
  void talk_ended(TalkId talk_id, TimePoint) override { ended.push_back(talk_id); }
  float gain = 1.0f;
  void set_output_gain(float g) override { gain = g; }
  LiveMeter meter;  // what live_meter() reports (talk_id 0: nothing measured)
  LiveMeter live_meter() const override { return meter; }
};

// A well-formed audio frame (a 20 ms SILK packet) for the given talk.
// capture_time_us: on the sender's clock (0: not given).
inline std::vector<std::uint8_t> audio_frame(std::uint32_t talk_id, std::uint16_t sequence = 0, std::uint8_t flags = 0,
                                             std::uint64_t capture_time_us = 0) {
  const std::uint8_t opus[] = {0x48, 0x01, 0x02, 0x03};
  protocol::AudioHeader h;
  h.talk_id = talk_id;
  h.sequence = sequence;
  h.timestamp = std::uint32_t{audio_format::kFrameSamples} * sequence;
  h.flags = flags;
  h.capture_time_us = capture_time_us;
  std::vector<std::uint8_t> out(protocol::kMaxAudioFrame);
  out.resize(protocol::encode_audio_frame(h, opus, sizeof opus, out.data(), out.size()));
  return out;
}

}  // namespace ptt::server::test
