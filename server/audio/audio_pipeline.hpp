// The room's AudioSink: the floor holder's packets go to live playback (PortAudio, when a device
// is there) and to the recorder (when a folder is given). Called on the room's strand; neither
// path blocks it. Both are fed only what the talk's timeline admits (TalkTimeline): no packet lies
// further ahead than the talk has lasted on the server's clock, plus the slack.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "audio_sink.hpp"
#include "playback.hpp"
#include "recorder.hpp"
#include "talk_timeline.hpp"

namespace ptt::server {

class AudioPipeline : public AudioSink, public RecordingCatalog {
 public:
  using Log = std::function<void(bool error, const std::string& message)>;

  // Either may be null: playback off, or recording off. timeline.max_talk should be the floor's.
  AudioPipeline(std::unique_ptr<Playback> playback = nullptr, std::unique_ptr<Recorder> recorder = nullptr,
                TalkTimelineConfig timeline = {}, Log log = {});
  // Before the server runs: main.cpp opens the device and the recordings folder only once it runs
  // as the user it serves as.
  void attach(std::unique_ptr<Playback> playback, std::unique_ptr<Recorder> recorder) {
    playback_ = std::move(playback);
    recorder_ = std::move(recorder);
  }

  void talk_started(TalkId talk_id, const std::string& speaker, TimePoint now) override;
  void audio(const AudioPacket& packet) override;
  void talk_ended(TalkId talk_id, TimePoint now) override;
  void set_output_gain(float gain) override {
    if (playback_) playback_->set_gain(gain);
  }
  LiveMeter live_meter() const override { return playback_ ? playback_->live_meter() : LiveMeter{}; }

  // RecordingCatalog: the recorder's, or none.
  std::vector<RecordingEntry> recordings() const override {
    return recorder_ ? recorder_->recordings() : std::vector<RecordingEntry>{};
  }
  std::optional<std::filesystem::path> recording_file(std::uint32_t id) const override {
    return recorder_ ? recorder_->recording_file(id) : std::nullopt;
  }

  Playback* playback() noexcept { return playback_.get(); }
  Recorder* recorder() noexcept { return recorder_.get(); }
  const TalkTimeline& timeline() const noexcept { return timeline_; }

 private:
  std::unique_ptr<Playback> playback_;
  std::unique_ptr<Recorder> recorder_;
  TalkTimeline timeline_;
  Log log_;
};

}  // namespace ptt::server
