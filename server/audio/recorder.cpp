#include "recorder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <stdexcept>

#include "ogg_opus_writer.hpp"
#include "ptt/audio_format.hpp"
#include "ptt/server/csv.hpp"
#include "recording_names.hpp"

namespace ptt::server {
namespace {
constexpr std::int64_t kReorderWindow = 200 * audio_format::kSamplesPerMs;

std::string iso8601(std::uint64_t wall_us) {
  const auto tt = static_cast<std::time_t>(wall_us / 1'000'000);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

struct Recorder::Talk {
  std::string speaker;
  std::uint64_t start_us = 0;  // wall clock
  std::unique_ptr<OggOpusWriter> writer;
  std::filesystem::path path;
  // Positions are samples from the talk's first packet (timestamp minus its, modulo 2^32, signed):
  // they sort right across the 32-bit wrap.
  bool has_origin = false;
  std::uint32_t origin = 0;
  std::map<std::int64_t, std::pair<std::vector<std::uint8_t>, std::uint32_t>> pending;  // position -> packet, samples
  bool writing = false;  // the first packet is written: `next` holds
  std::int64_t next = 0;  // the position the file has reached
  std::int64_t newest = 0;
  std::uint64_t packets = 0, fillers = 0, late = 0;
  bool failed = false;
  std::uint32_t catalog_id = 0;  // 0 until the file exists
};

Recorder::Recorder(std::filesystem::path folder, Log log, std::size_t max_queued_packets)
    : folder_(std::move(folder)), log_(std::move(log)), max_queued_packets_(max_queued_packets) {
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

void Recorder::talk_started(std::uint32_t talk_id, const std::string& speaker, std::uint64_t start_us) {
  push(Start{talk_id, speaker, start_us});
}

void Recorder::packet(const AudioPacket& p) { push(p); }

void Recorder::talk_ended(std::uint32_t talk_id, std::uint64_t refused) {
  push(End{talk_id, refused, 0});
}

void Recorder::flush() {
  std::unique_lock lock(mutex_);
  const auto target = ++pushed_;
  queue_.push_back(Barrier{});
  wake_.notify_one();
  drained_.wait(lock, [&] { return handled_ >= target; });
}

void Recorder::push(Event&& e) {
  {
    std::lock_guard lock(mutex_);
    if (const auto* p = std::get_if<AudioPacket>(&e)) {
      if (queued_packets_ >= max_queued_packets_) {
        ++dropped_[p->header.talk_id];  // the thread is behind (a disk that stopped answering): drop, count
        return;
      }
      ++queued_packets_;
    } else if (auto* end = std::get_if<End>(&e)) {
      if (auto it = dropped_.find(end->talk_id); it != dropped_.end()) {
        end->dropped = it->second;
        dropped_.erase(it);
      }
    }
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
    std::size_t audio = 0;
    for (auto& e : batch) {
      audio += std::holds_alternative<AudioPacket>(e);
      handle(e);
    }
    {
      std::lock_guard lock(mutex_);
      handled_ += batch.size();
      queued_packets_ -= audio;  // only now: the batch held their memory until here
    }
    batch.clear();
    drained_.notify_all();
  }
  for (auto& [id, talk] : talks_) {  // shutting down mid-talk: close every file properly
    if (!talk->writer) continue;
    write_ready(*talk, true);
    talk->writer->finish();
    catalog_finished(*talk);
  }
}

bool Recorder::open_file(std::uint32_t talk_id, Talk& t) {
  int fd = -1;
  std::string error;
  t.path = create_recording_file(folder_, safe_file_stem(t.speaker), fd, error);
  if (fd < 0) {
    log_(true, "recording off for talk " + std::to_string(talk_id) + ": " + error);
    t.failed = true;
    return false;
  }
  OggOpusInfo info;
  info.comments = {"TITLE=" + t.speaker, "ARTIST=" + t.speaker, "DATE=" + iso8601(t.start_us),
                   "COMMENT=talk " + std::to_string(talk_id)};
  t.writer = std::make_unique<OggOpusWriter>(fd, info, talk_id);
  if (!t.writer->ok()) {
    // Without its headers the file is no Ogg Opus file at all: remove it rather than leave it.
    log_(true, "recording off for talk " + std::to_string(talk_id) + ": " + t.path.string() + ": " + t.writer->error() +
                   " (file removed)");
    t.writer.reset();
    std::error_code ignored;
    std::filesystem::remove(t.path, ignored);
    t.failed = true;
    return false;
  }
  std::lock_guard lock(catalog_mutex_);
  RecordingEntry entry;
  entry.id = static_cast<std::uint32_t>(catalog_.size() + 1);
  entry.file = t.path.filename().string();
  entry.speaker = t.speaker;
  entry.start_us = t.start_us;
  catalog_.push_back(std::move(entry));
  t.catalog_id = catalog_.back().id;
  return true;
}

void Recorder::catalog_finished(const Talk& t) {
  if (t.catalog_id == 0 || !t.writer) return;
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(t.path, ec);
  RecordingEntry finished;
  {
    std::lock_guard lock(catalog_mutex_);
    auto& entry = catalog_[t.catalog_id - 1];
    entry.duration_ms = t.writer->samples_written() / audio_format::kSamplesPerMs;
    entry.bytes = ec ? 0 : bytes;
    entry.finished = true;
    finished = entry;
  }
  append_index(finished);
}

// One line per finished recording in the folder's index.csv, which a professor opens in a
// spreadsheet to find a talk: who, when (UTC), how long.
// Owner-only like the recordings, and never through a link someone planted in the folder.
void Recorder::append_index(const RecordingEntry& entry) {
  const auto index = folder_ / "index.csv";
  const int fd = ::open(index.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) ::close(fd);
    log_(true, "cannot add " + entry.file + " to " + index.string() + ": not a file we can write");
    return;
  }
  std::string line;
  if (st.st_size == 0) line = "file,name,start_utc,duration_s,bytes\r\n";
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.2f", static_cast<double>(entry.duration_ms) / 1000.0);
  // The file name as it is on disk (safe_file_stem never starts one with a formula's sign).
  line += csv_field(entry.file) + ',' + csv_field(entry.speaker) + ',' + iso8601(entry.start_us) + ',' + duration + ',' +
          std::to_string(entry.bytes) + "\r\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!written) log_(true, "cannot add " + entry.file + " to " + index.string());
}

std::vector<RecordingEntry> Recorder::recordings() const {
  std::lock_guard lock(catalog_mutex_);
  return catalog_;
}

std::optional<std::filesystem::path> Recorder::recording_file(std::uint32_t id) const {
  std::lock_guard lock(catalog_mutex_);
  if (id == 0 || id > catalog_.size() || !catalog_[id - 1].finished) return std::nullopt;
  return folder_ / catalog_[id - 1].file;
}

void Recorder::handle(Event& e) {
  if (const auto* p = std::get_if<AudioPacket>(&e)) return handle_audio(*p);
  if (auto* start = std::get_if<Start>(&e)) {
    // The file waits for the talk's first packet: a grant without audio leaves none.
    auto talk = std::make_unique<Talk>();
    talk->speaker = std::move(start->speaker);
    talk->start_us = start->start_us;
    talks_[start->talk_id] = std::move(talk);
    return;
  }
  if (const auto* end = std::get_if<End>(&e)) return handle_end(*end);
}

void Recorder::handle_audio(const AudioPacket& p) {
  auto it = talks_.find(p.header.talk_id);
  if (it == talks_.end() || it->second->failed || p.samples == 0 || p.size == 0) return;
  Talk& t = *it->second;
  if (!t.writer && !open_file(p.header.talk_id, t)) return;
  if (!t.has_origin) {
    t.has_origin = true;
    t.origin = p.header.timestamp;
  }
  const std::int64_t pos = static_cast<std::int32_t>(p.header.timestamp - t.origin);
  // Behind what is already written, a second packet for a time held, or one overlapping a
  // packet held (whose time it would add to the file's a second time).
  auto after = t.pending.lower_bound(pos);
  const bool overlaps = (after != t.pending.end() && after->first < pos + p.samples) ||
                        (after != t.pending.begin() && std::prev(after)->first + std::prev(after)->second.second > pos);
  if ((t.writing && pos < t.next) || overlaps) {
    ++t.late;
    return;
  }
  if (t.pending.empty() || pos > t.newest) t.newest = pos;
  t.pending.emplace_hint(after, pos, std::make_pair(std::vector<std::uint8_t>(p.opus.begin(), p.opus.begin() + p.size),
                                                    p.samples));
  write_ready(t, false);
}

void Recorder::handle_end(const End& e) {
  auto it = talks_.find(e.talk_id);
  if (it == talks_.end()) return;
  Talk& t = *it->second;
  const std::string refused = e.refused ? ", " + std::to_string(e.refused) + " refused (outside the talk's time)" : "";
  const std::string dropped = e.dropped ? ", " + std::to_string(e.dropped) + " dropped (the recorder fell behind)" : "";
  if (t.writer) {
    write_ready(t, true);
    if (!t.writer->finish() && !t.failed) log_(true, "recording " + t.path.string() + ": " + t.writer->error());
    catalog_finished(t);
    if (!t.failed)
      log_(false, "recorded " + t.path.filename().string() + ": " + std::to_string(t.packets) + " packets, " +
                      std::to_string(t.writer->samples_written() / audio_format::kSamplesPerMs) + " ms, " + std::to_string(t.fillers) +
                      " gaps filled, " + std::to_string(t.late) + " late, repeated or overlapping" + refused + dropped);
  } else if (!t.failed) {
    log_(false, "talk " + std::to_string(e.talk_id) + ": no audio recorded, no file" + refused + dropped);
  }
  talks_.erase(it);
}

void Recorder::write_ready(Talk& t, bool all) {
  while (!t.pending.empty() && !t.failed) {
    auto first = t.pending.begin();
    if (!all && t.newest - first->first < kReorderWindow) break;
    const std::int64_t pos = first->first;
    auto& [data, samples] = first->second;
    if (!t.writing) {  // the file starts at the talk's earliest packet
      t.writing = true;
      t.next = pos;
    }
    // Fill a gap (lost or unsent silent packets) with TOC-only packets of the same configuration:
    // each decodes as concealment, so the file's timeline matches the talk's.
    const std::uint8_t filler = static_cast<std::uint8_t>(data[0] & 0xFC);
    while (pos - t.next >= samples) {
      t.writer->write(&filler, 1, samples);
      t.next += samples;
      ++t.fillers;
    }
    if (!t.writer->write(data.data(), data.size(), samples)) {
      log_(true, "recording " + t.path.string() + " stopped: " + t.writer->error() + " (the file is valid up to here)");
      t.failed = true;
      break;
    }
    ++t.packets;
    t.next = pos + samples;
    t.pending.erase(first);
  }
}

}  // namespace ptt::server
