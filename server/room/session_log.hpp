// The class's session log: who asked for the floor and when, granted or not, how long each talk
// lasted and how it ended (released, revoked and by whom), who left the line, who was removed, and
// mode changes. Bounded (the oldest entries go first), so a student pressing all session cannot
// grow it without end. Beast-free; the room writes it on its strand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace ptt::server {

struct LogEntry {
  std::uint64_t wall_us = 0;  // when, on the wall clock
  std::string event;          // granted, denied, queued, left line, ended, removed, mode
  std::string student;        // display name, as the room shows it (empty for a mode change)
  std::string detail;         // e.g. "revoked: the professor", "position 2", "queue"
  std::int64_t duration_ms = -1;  // a talk's length, for `ended`; -1 otherwise
};

class SessionLog {
 public:
  static constexpr std::size_t kMaxEntries = 10'000;

  void add(LogEntry entry);
  const std::deque<LogEntry>& entries() const noexcept { return entries_; }
  std::size_t dropped() const noexcept { return dropped_; }
  // RFC 4180 CSV with a header line: time (UTC, ISO 8601, ms), event, student, detail, duration_s.
  // A field a spreadsheet would run as a formula (starting with = + - @, tab or CR) is prefixed with
  // a quote mark: a student's name is their own text.
  std::string csv() const;

 private:
  std::deque<LogEntry> entries_;
  std::size_t dropped_ = 0;
};

// "2026-12-02T14:05:09.123Z"
std::string iso_utc(std::uint64_t wall_us);

}  // namespace ptt::server
