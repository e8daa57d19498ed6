#include "audio_pipeline.hpp"

namespace ptt::server {

AudioPipeline::AudioPipeline(std::unique_ptr<Playback> playback, std::unique_ptr<Recorder> recorder,
                             TalkTimelineConfig timeline, Log log)
    : playback_(std::move(playback)), recorder_(std::move(recorder)), timeline_(timeline), log_(std::move(log)) {}

void AudioPipeline::talk_started(TalkId talk_id, const std::string& speaker, TimePoint now) {
  timeline_.start(talk_id, now);
  if (playback_) playback_->talk_started(talk_id);
  if (recorder_) recorder_->talk_started(talk_id, speaker, wall_clock_us());
}

void AudioPipeline::audio(const AudioPacket& packet) {
  // The one check of the sender's timeline against the server's clock: what it refuses reaches
  // neither the speakers nor the file.
  if (timeline_.admit(packet.header.talk_id, packet.header.timestamp, packet.samples, packet.arrival) !=
      TalkTimeline::Verdict::accepted)
    return;
  if (recorder_) recorder_->packet(packet);
  if (playback_) playback_->packet(packet);
}

void AudioPipeline::talk_ended(TalkId talk_id, TimePoint) {
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
