#include "recorder.hpp"

#include <unistd.h>

#include <ctime>
#include <stdexcept>

#include "ogg_opus_writer.hpp"
#include "recording_names.hpp"

namespace ptt::server {
namespace {
constexpr std::uint32_t kReorderWindow = 9600;  // 200 ms of 48 kHz samples

std::string iso8601(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

struct Recorder::Talk {
  std::unique_ptr<OggOpusWriter> writer;
  std::filesystem::path path;
  std::map<std::uint32_t, std::pair<std::vector<std::uint8_t>, std::uint32_t>> pending;  // timestamp -> packet, samples
  std::uint32_t next_timestamp = 0;
  std::uint32_t newest = 0;
  std::uint64_t packets = 0, fillers = 0, late = 0;
  bool failed = false;
};

Recorder::Recorder(std::filesystem::path folder, Log log) : folder_(std::move(folder)), log_(std::move(log)) {
  std::error_code ec;
  // Students' voices: a folder we make is the professor's alone (an existing one keeps its mode).
  if (std::filesystem::create_directories(folder_, ec))
    std::filesystem::permissions(folder_, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  if (ec || !std::filesystem::is_directory(folder_))
    throw std::runtime_error("cannot create recordings folder " + folder_.string() + ": " + ec.message());
  thread_ = std::thread([this] { run(); });
}

Recorder::~Recorder() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Recorder::talk_started(std::uint32_t talk_id, const std::string& speaker, std::chrono::system_clock::time_point start) {
  push(Event{Event::start, talk_id, 0, 0, {}, speaker, start});
}

void Recorder::packet(std::uint32_t talk_id, std::uint32_t timestamp, const std::uint8_t* data, std::size_t size,
                      std::uint32_t samples) {
  push(Event{Event::audio, talk_id, timestamp, samples, std::vector<std::uint8_t>(data, data + size), {}, {}});
}

void Recorder::talk_ended(std::uint32_t talk_id) { push(Event{Event::end, talk_id, 0, 0, {}, {}, {}}); }

void Recorder::flush() {
  std::unique_lock lock(mutex_);
  const auto target = ++pushed_;
  queue_.push_back(Event{Event::barrier, 0, 0, 0, {}, {}, {}});
  wake_.notify_one();
  drained_.wait(lock, [&] { return handled_ >= target; });
}

void Recorder::push(Event&& e) {
  {
    std::lock_guard lock(mutex_);
    ++pushed_;
    queue_.push_back(std::move(e));
  }
  wake_.notify_one();
}

void Recorder::run() {
  std::deque<Event> batch;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) break;
      batch.swap(queue_);
    }
    for (auto& e : batch) handle(e);
    {
      std::lock_guard lock(mutex_);
      handled_ += batch.size();
    }
    batch.clear();
    drained_.notify_all();
  }
  for (auto& [id, talk] : talks_) {  // shutting down mid-talk: close every file properly
    write_ready(*talk, true);
    if (talk->writer) talk->writer->finish();
  }
}

void Recorder::handle(Event& e) {
  switch (e.kind) {
    case Event::barrier:
      return;
    case Event::start: {
      auto talk = std::make_unique<Talk>();
      int fd = -1;
      std::string error;
      talk->path = create_recording_file(folder_, safe_file_stem(e.speaker), fd, error);
      if (fd < 0) {
        log_(true, "recording off for talk " + std::to_string(e.talk_id) + ": " + error);
        talk->failed = true;
      } else {
        OggOpusInfo info;
        info.comments = {"TITLE=" + e.speaker, "ARTIST=" + e.speaker, "DATE=" + iso8601(e.when),
                         "COMMENT=talk " + std::to_string(e.talk_id)};
        talk->writer = std::make_unique<OggOpusWriter>(fd, info, e.talk_id);
        if (!talk->writer->ok()) {
          // Without its headers the file is no Ogg Opus file at all: remove it rather than leave it.
          log_(true, "recording off for talk " + std::to_string(e.talk_id) + ": " + talk->path.string() + ": " +
                         talk->writer->error() + " (file removed)");
          talk->writer.reset();
          std::error_code ignored;
          std::filesystem::remove(talk->path, ignored);
          talk->failed = true;
        }
      }
      talks_[e.talk_id] = std::move(talk);
      return;
    }
    case Event::audio: {
      auto it = talks_.find(e.talk_id);
      if (it == talks_.end() || it->second->failed) return;
      Talk& t = *it->second;
      if (static_cast<std::int32_t>(e.timestamp - t.next_timestamp) < 0 || t.pending.count(e.timestamp)) {
        ++t.late;  // behind what is already written, or a duplicate
        return;
      }
      if (t.pending.empty() || static_cast<std::int32_t>(e.timestamp - t.newest) > 0) t.newest = e.timestamp;
      t.pending.emplace(e.timestamp, std::make_pair(std::move(e.data), e.samples));
      write_ready(t, false);
      return;
    }
    case Event::end: {
      auto it = talks_.find(e.talk_id);
      if (it == talks_.end()) return;
      Talk& t = *it->second;
      write_ready(t, true);
      if (t.writer && !t.writer->finish() && !t.failed) log_(true, "recording " + t.path.string() + ": " + t.writer->error());
      if (!t.failed && t.writer)
        log_(false, "recorded " + t.path.filename().string() + ": " + std::to_string(t.packets) + " packets, " +
                        std::to_string(t.writer->samples_written() / 48) + " ms, " + std::to_string(t.fillers) +
                        " gaps filled, " + std::to_string(t.late) + " late");
      talks_.erase(it);
      return;
    }
  }
}

void Recorder::write_ready(Talk& t, bool all) {
  while (!t.pending.empty() && !t.failed) {
    auto first = t.pending.begin();
    if (!all && t.newest - first->first < kReorderWindow) break;
    const auto timestamp = first->first;
    auto& [data, samples] = first->second;
    // Fill a gap (lost or unsent silent packets) with TOC-only packets of the same configuration:
    // each decodes as concealment, so the file's timeline matches the talk's.
    const std::uint8_t filler = static_cast<std::uint8_t>(data[0] & 0xFC);
    while (samples > 0 && static_cast<std::int32_t>(timestamp - t.next_timestamp) >= static_cast<std::int32_t>(samples)) {
      t.writer->write(&filler, 1, samples);
      t.next_timestamp += samples;
      ++t.fillers;
    }
    if (!t.writer->write(data.data(), data.size(), samples)) {
      log_(true, "recording " + t.path.string() + " stopped: " + t.writer->error() + " (the file is valid up to here)");
      t.failed = true;
      break;
    }
    ++t.packets;
    t.next_timestamp = timestamp + samples;
    t.pending.erase(first);
  }
}

}  // namespace ptt::server
