// The recordings of this run, as the professor's console and /admin/recordings see them: each
// has an id from the listing, and a file is only ever reached through that id, never a path
// from a request.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ptt::server {

struct RecordingEntry {
  std::uint32_t id = 0;          // 1, 2, ... in the order talks were recorded
  std::string file;              // file name inside the recordings folder, e.g. "Ana-3.opus"
  std::string speaker;
  std::uint64_t start_us = 0;    // wall clock, microseconds since the epoch
  std::uint64_t duration_ms = 0;
  std::uint64_t bytes = 0;
  bool finished = false;         // false while the talk is still being written
};

class RecordingCatalog {
 public:
  virtual ~RecordingCatalog() = default;
  // Thread-safe: called from the I/O threads.
  virtual std::vector<RecordingEntry> recordings() const = 0;
  // The file of a finished recording of this run, or nullopt.
  virtual std::optional<std::filesystem::path> recording_file(std::uint32_t id) const = 0;
};

}  // namespace ptt::server
