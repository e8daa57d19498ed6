#include "audio_pipeline.hpp"

#include <algorithm>
#include <cstring>

namespace ptt::server {

AudioPipeline::AudioPipeline(std::unique_ptr<Playback> playback, std::unique_ptr<Recorder> recorder)
    : playback_(std::move(playback)), recorder_(std::move(recorder)) {}

void AudioPipeline::talk_started(std::uint32_t talk_id, const std::string& speaker, TimePoint) {
  if (playback_) playback_->talk_started(talk_id);
  if (recorder_) recorder_->talk_started(talk_id, speaker, std::chrono::system_clock::now());
}

void AudioPipeline::audio(const protocol::AudioFrameView& frame, TimePoint arrival, std::int64_t clock_offset_us) {
  if (recorder_) recorder_->packet(frame.header.talk_id, frame.header.timestamp, frame.opus, frame.opus_size, frame.samples);
  if (!playback_) return;
  // Both times on the server's wall clock: the capture time moved by the client's clock offset,
  // the arrival (a steady-clock reading) by how long ago it was.
  const auto wall_now = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  const auto ago = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - arrival).count();
  JitterPacket p;
  p.talk_id = frame.header.talk_id;
  p.timestamp = frame.header.timestamp;
  p.samples = frame.samples;
  p.sequence = frame.header.sequence;
  p.size = static_cast<std::uint16_t>(std::min(frame.opus_size, p.data.size()));
  std::memcpy(p.data.data(), frame.opus, p.size);
  p.capture_us = frame.header.capture_time_us ? static_cast<std::int64_t>(frame.header.capture_time_us) - clock_offset_us : 0;
  p.arrival_us = wall_now - ago;
  playback_->packet(p);
}

void AudioPipeline::talk_ended(std::uint32_t talk_id, TimePoint) {
  if (playback_) playback_->talk_ended(talk_id);
  if (recorder_) recorder_->talk_ended(talk_id);
}

}  // namespace ptt::server
