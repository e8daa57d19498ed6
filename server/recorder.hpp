// Records each talk as <name>-<serial>.opus in a folder, on a thread of its own: the room's strand
// only queues packets (a short lock, no I/O), and the audio callback is never involved. Packets are
// written in timestamp order (a 200 ms reorder window) with gaps filled, so the file's timeline is
// the talk's.
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
#include <vector>

namespace ptt::server {

class OggOpusWriter;

class Recorder {
 public:
  using Log = std::function<void(bool error, const std::string& message)>;

  // Creates the folder if needed. Throws std::runtime_error if it cannot be created.
  Recorder(std::filesystem::path folder, Log log);
  ~Recorder();  // finishes every open file

  void talk_started(std::uint32_t talk_id, const std::string& speaker, std::chrono::system_clock::time_point start);
  void packet(std::uint32_t talk_id, std::uint32_t timestamp, const std::uint8_t* data, std::size_t size,
              std::uint32_t samples);
  void talk_ended(std::uint32_t talk_id);
  // Blocks until everything queued so far is on disk (tests).
  void flush();
  const std::filesystem::path& folder() const noexcept { return folder_; }

 private:
  struct Event {
    enum Kind { start, audio, end, barrier } kind;
    std::uint32_t talk_id = 0;
    std::uint32_t timestamp = 0, samples = 0;
    std::vector<std::uint8_t> data;
    std::string speaker;
    std::chrono::system_clock::time_point when{};
  };
  struct Talk;

  void push(Event&& e);
  void run();
  void handle(Event& e);
  void write_ready(Talk& t, bool all);

  std::filesystem::path folder_;
  Log log_;
  std::mutex mutex_;
  std::condition_variable wake_, drained_;
  std::deque<Event> queue_;
  std::uint64_t pushed_ = 0, handled_ = 0;
  bool stop_ = false;
  std::map<std::uint32_t, std::unique_ptr<Talk>> talks_;  // recorder thread only
  std::thread thread_;
};

}  // namespace ptt::server
