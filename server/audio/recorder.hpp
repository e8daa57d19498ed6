// Records each talk as <name>-<serial>.opus in a folder (listed in its index.csv), on a thread of its own: the room's strand
// only queues packets (a short lock, no I/O), and the audio callback is never involved. Packets are
// written in timestamp order (a 200 ms reorder window) with gaps filled, so the file's timeline is
// the talk's, from its first packet on. The file is made at the talk's first packet: a grant
// without audio leaves none.
//
// The recorder trusts the timestamps it is given: AudioPipeline feeds it only packets its
// TalkTimeline admitted (within the talk's time on the server's clock), which bounds every gap it
// fills. What it bounds itself: packets that overlap one already held or written are refused (the
// file's timeline never runs longer than the packets' span), so the reorder window holds at most a
// few hundred packets; and at most max_queued_packets wait for its thread (the rest are dropped and
// counted: a disk that stops answering cannot grow the server's memory).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "audio_sink.hpp"
#include "recording_catalog.hpp"

namespace ptt::server {

class OggOpusWriter;

class Recorder : public RecordingCatalog {
 public:
  using Log = std::function<void(bool error, const std::string& message)>;

  // 2,048 packets: 41 s of the page's 20 ms packets (20 s of 10 ms ones), about 3 MB at most.
  static constexpr std::size_t kMaxQueuedPackets = 2048;

  // Creates the folder if needed. Throws std::runtime_error if it cannot be created.
  Recorder(std::filesystem::path folder, Log log, std::size_t max_queued_packets = kMaxQueuedPackets);
  ~Recorder();  // finishes every open file

  // start_us: the grant, on the wall clock (wall_clock_us()): the recording's date.
  void talk_started(std::uint32_t talk_id, const std::string& speaker, std::uint64_t start_us);
  void packet(const AudioPacket& packet);
  // refused: the talk's packets the timeline guard kept from the recorder, for its log line.
  void talk_ended(std::uint32_t talk_id, std::uint64_t refused = 0);
  // Blocks until everything queued so far is on disk (tests).
  void flush();
  const std::filesystem::path& folder() const noexcept { return folder_; }
  // RecordingCatalog: every file this recorder made, in order.
  std::vector<RecordingEntry> recordings() const override;
  std::optional<std::filesystem::path> recording_file(std::uint32_t id) const override;

 private:
  // The recorder thread's queue, in order: a talk's start and end, its packets as they arrived.
  struct Start {
    TalkId talk_id = 0;
    std::string speaker;
    std::uint64_t start_us = 0;  // wall clock
  };
  struct End {
    TalkId talk_id = 0;
    std::uint64_t refused = 0, dropped = 0;  // refused by the guard, dropped at the queue cap
  };
  struct Barrier {};
  using Event = std::variant<Start, AudioPacket, End, Barrier>;
  struct Talk;

  void push(Event&& e);
  void run();
  void handle(Event& e);
  void handle_audio(const AudioPacket& p);
  void handle_end(const End& e);
  void write_ready(Talk& t, bool all);
  bool open_file(std::uint32_t talk_id, Talk& t);
  void catalog_finished(const Talk& t);
  void append_index(const RecordingEntry& entry);

  std::filesystem::path folder_;
  Log log_;
  std::mutex mutex_;
  std::condition_variable wake_, drained_;
  std::deque<Event> queue_;
  const std::size_t max_queued_packets_;
  std::size_t queued_packets_ = 0;            // audio events queued or being handled
  std::map<std::uint32_t, std::uint64_t> dropped_;  // talk -> packets dropped at the cap, until its end
  std::uint64_t pushed_ = 0, handled_ = 0;
  bool stop_ = false;
  std::map<std::uint32_t, std::unique_ptr<Talk>> talks_;  // recorder thread only
  mutable std::mutex catalog_mutex_;
  std::vector<RecordingEntry> catalog_;  // index = id - 1
  std::thread thread_;
};

}  // namespace ptt::server
