// The session log: what it records of a class, and its CSV as a spreadsheet would read it.
#include <gtest/gtest.h>

#include "fake_peer.hpp"
#include "room.hpp"
#include "session_log.hpp"

using namespace ptt::server;
using namespace ptt::server::test;
using namespace std::chrono_literals;
namespace proto = ptt::protocol;

namespace {

TEST(SessionLog, CsvQuotesWhatNeedsItAndDisarmsFormulas) {
  SessionLog log;
  log.add({1'795'000'000'123'000ull, "granted", "=HYPERLINK(\"http://x\")", "asked", -1});
  log.add({1'795'000'001'000'000ull, "ended", "Ana, \"the\" first", "released", 2500});
  log.add({1'795'000'002'000'000ull, "denied", "@Ben", "line\nbreak", -1});
  log.add({1'795'000'003'000'000ull, "mode", "", "moderated", -1});
  EXPECT_EQ(log.csv(),
            "time,event,student,detail,duration_s\r\n"
            "2026-11-18T11:06:40.123Z,granted,\"'=HYPERLINK(\"\"http://x\"\")\",asked,\r\n"
            "2026-11-18T11:06:41.000Z,ended,\"Ana, \"\"the\"\" first\",released,2.5\r\n"
            "2026-11-18T11:06:42.000Z,denied,'@Ben,\"line\nbreak\",\r\n"
            "2026-11-18T11:06:43.000Z,mode,,moderated,\r\n");
}

TEST(SessionLog, KeepsTheNewestEntriesUpToItsBound) {
  SessionLog log;
  for (std::size_t i = 0; i < SessionLog::kMaxEntries + 5; ++i) log.add({i, "denied", "S", std::to_string(i), -1});
  EXPECT_EQ(log.entries().size(), SessionLog::kMaxEntries);
  EXPECT_EQ(log.dropped(), 5u);
  EXPECT_EQ(log.entries().front().detail, "5");
}

// A short class: every talk is in the log with how it ended and how long it lasted, and the
// professor's actions are named.
TEST(SessionLog, TheRoomLogsEachTalkAndEachOfTheProfessorsActions) {
  TimePoint now = TimePoint{} + 1h;
  std::uint64_t wall_us = 1'795'000'000'000'000ull;
  RoomConfig config;
  CountingSink sink;
  Room room(config, &sink, [&] { return wall_us; });
  std::vector<std::shared_ptr<FakePeer>> peers;
  auto join = [&](const std::string& name, const std::string& address) {
    auto p = std::make_shared<FakePeer>();
    peers.push_back(p);
    const ClientId id = room.connect(p, now, address);
    room.on_text(id, proto::encode_control(proto::Join{name, ""}), now);
    return id;
  };
  auto later = [&](std::chrono::milliseconds d) {
    now += d;
    wall_us += static_cast<std::uint64_t>(std::chrono::microseconds(d).count());
  };
  const auto a = join("Ana", "10.0.0.1"), b = join("Ben", "10.0.0.2");
  room.on_text(a, proto::encode_control(proto::FloorRequest{}), now);
  later(500ms);
  room.on_text(b, proto::encode_control(proto::FloorRequest{}), now);  // busy
  later(1500ms);
  room.on_text(a, proto::encode_control(proto::FloorRelease{peers[0]->last<proto::FloorGranted>()->talk_id}), now);
  room.set_floor_mode(FloorMode::moderated, now);
  room.on_text(b, proto::encode_control(proto::FloorRequest{}), now);  // in line
  room.grant_floor(b, now);
  later(3000ms);
  room.revoke_floor(now);
  room.remove_client(a, now);

  std::vector<std::string> rows;
  for (const auto& e : room.session_log().entries())
    rows.push_back(e.event + "|" + e.student + "|" + e.detail + "|" + std::to_string(e.duration_ms));
  EXPECT_EQ(rows, (std::vector<std::string>{
                      "granted|Ana|asked|-1",
                      "denied|Ben|Ana was speaking|-1",
                      "ended|Ana|released|2000",
                      "mode||moderated|-1",
                      "queued|Ben|position 1|-1",
                      "granted|Ben|by the professor|-1",
                      "ended|Ben|revoked: the professor|3000",
                      "removed|Ana|by the professor|-1",
                  }));
  const auto csv = room.session_log_csv();
  EXPECT_NE(csv.find(",ended,Ben,revoked: the professor,3.0\r\n"), std::string::npos) << csv;
}

}  // namespace
