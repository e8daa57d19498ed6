// Where the room sends the floor holder's audio: the playback and recording pipeline. Calls come
// from the room's strand and must not block.
#pragma once

#include <cstdint>
#include <string>

#include "ptt/protocol.hpp"
#include "ptt/server/vocabulary.hpp"

namespace ptt::server {

class AudioSink {
 public:
  virtual ~AudioSink() = default;
  virtual void talk_started(std::uint32_t talk_id, const std::string& speaker, TimePoint now) = 0;
  // clock_offset_us: the sender's clock minus the server's wall clock (0 when unknown).
  virtual void audio(const protocol::AudioFrameView& frame, TimePoint arrival, std::int64_t clock_offset_us) = 0;
  virtual void talk_ended(std::uint32_t talk_id, TimePoint now) = 0;
};

}  // namespace ptt::server
