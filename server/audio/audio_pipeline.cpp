#include "audio_pipeline.hpp"

#include <algorithm>
#include <cstring>

namespace ptt::server {

AudioPipeline::AudioPipeline(std::unique_ptr<Playback> playback, std::unique_ptr<Recorder> recorder,
                             TalkTimelineConfig timeline, Log log)
    : playback_(std::move(playback)), recorder_(std::move(recorder)), timeline_(timeline), log_(std::move(log)) {}

void AudioPipeline::talk_started(std::uint32_t talk_id, const std::string& speaker, TimePoint now) {
  timeline_.start(talk_id, now);
  if (playback_) playback_->talk_started(talk_id);
  if (recorder_) recorder_->talk_started(talk_id, speaker, wall_clock_us());
}

void AudioPipeline::audio(const protocol::AudioFrameView& frame, TimePoint arrival, std::int64_t clock_offset_us) {
  // The one check of the sender's timeline against the server's clock: what it refuses reaches
  // neither the speakers nor the file.
  if (timeline_.admit(frame.header.talk_id, frame.header.timestamp, frame.samples, arrival) != TalkTimeline::Verdict::accepted)
    return;
  if (recorder_) recorder_->packet(frame.header.talk_id, frame.header.timestamp, frame.opus, frame.opus_size, frame.samples);
  if (!playback_) return;
  // Both times on the server's wall clock: the capture time moved by the client's clock offset,
  // the arrival (a steady-clock reading) by how long ago it was.
  const auto wall_now = static_cast<std::int64_t>(wall_clock_us());
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
  std::uint64_t refused = 0;
  if (talk_id == timeline_.talk_id()) {
    timeline_.end(talk_id);
    const auto& n = timeline_.counts();
    refused = n.refused();
    if (refused > 0 && log_)
      log_(false, "talk " + std::to_string(talk_id) + ": " + std::to_string(refused) + " packets refused (" +
                      std::to_string(n.outside) + " outside the talk's time on the server's clock, " +
                      std::to_string(n.over_budget) + " more audio than that time), " + std::to_string(n.accepted) +
                      " accepted");
  }
  if (playback_) playback_->talk_ended(talk_id);
  if (recorder_) recorder_->talk_ended(talk_id, refused);
}

}  // namespace ptt::server
