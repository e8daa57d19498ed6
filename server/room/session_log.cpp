#include "session_log.hpp"

#include <cstdio>
#include <ctime>

#include "ptt/server/csv.hpp"

namespace ptt::server {

std::string iso_utc(std::uint64_t wall_us) {
  const std::time_t seconds = static_cast<std::time_t>(wall_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03uZ", static_cast<unsigned>(wall_us / 1000 % 1000));
  return buf;
}

void SessionLog::add(LogEntry entry) {
  if (entries_.size() == kMaxEntries) {
    entries_.pop_front();
    ++dropped_;
  }
  entries_.push_back(std::move(entry));
}

std::string SessionLog::csv() const {
  std::string out = "time,event,student,detail,duration_s\r\n";
  for (const auto& e : entries_) {
    out += iso_utc(e.wall_us) + ',' + csv_field(e.event) + ',' + csv_field(e.student) + ',' + csv_field(e.detail) + ',';
    if (e.duration_ms >= 0) {
      char d[32];
      std::snprintf(d, sizeof d, "%.1f", static_cast<double>(e.duration_ms) / 1000.0);
      out += d;
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace ptt::server
