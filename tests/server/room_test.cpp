// The room's protocol rules with fake peers and a scripted clock (docs/PROTOCOL.md section 5).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "fake_peer.hpp"
#include "room.hpp"

using namespace ptt::server;
using namespace ptt::server::test;
using namespace std::chrono_literals;
namespace proto = ptt::protocol;

namespace {

struct RoomFixture : ::testing::Test {
  TimePoint now = TimePoint{} + 1h;
  std::uint64_t wall_us = 1'795'000'000'000'000ull;
  CountingSink sink;
  RoomConfig config;
  std::unique_ptr<Room> room;
  std::map<ClientId, std::shared_ptr<FakePeer>> peers;
  int next_address_ = 0;

  void make_room() {
    room = std::make_unique<Room>(config, &sink, [this] { return wall_us; });
  }
  void SetUp() override { make_room(); }

  // Each client on an address of its own unless a test says otherwise (the per-address cap).
  ClientId connect(std::string address = {}) {
    if (address.empty()) {
      address = "10.1." + std::to_string(next_address_ / 250) + "." + std::to_string(next_address_ % 250 + 1);
      ++next_address_;
    }
    auto p = std::make_shared<FakePeer>();
    const ClientId id = room->connect(p, now, std::move(address));
    if (id) peers[id] = p;
    return id;
  }
  ClientId joined(const std::string& name) {
    const ClientId id = connect();
    text(id, proto::encode_control(proto::Join{name, config.room_code}));
    return id;
  }
  void text(ClientId id, const std::string& t) { room->on_text(id, t, now); }
  void send(ClientId id, const proto::ControlMessage& m) { text(id, proto::encode_control(m)); }
  void audio(ClientId id, const std::vector<std::uint8_t>& f) { room->on_binary(id, f.data(), f.size(), now); }
  FakePeer& peer(ClientId id) { return *peers.at(id); }
  void advance(std::chrono::milliseconds d) {
    // Tick every 100 ms as the server's timer does.
    for (auto left = d; left > 0ms; left -= 100ms) {
      const auto step = std::min(left, std::chrono::milliseconds(100));
      now += step;
      wall_us += static_cast<std::uint64_t>(std::chrono::microseconds(step).count());
      room->tick(now);
    }
  }
  std::uint32_t granted_talk(ClientId id) {
    auto g = peer(id).last<proto::FloorGranted>();
    return g ? g->talk_id : 0;
  }
};

// A console's end of the channel: the room's views, and the answers to its actions, as JSON.
struct FakeConsole : Peer {
  std::vector<nlohmann::json> views, answers, meters;
  void send(std::shared_ptr<const std::string> text) override {
    auto j = nlohmann::json::parse(*text);
    (j["type"] == "room" ? views : j["type"] == "meter" ? meters : answers).push_back(std::move(j));
  }
  std::optional<std::uint16_t> closed;
  void close(std::uint16_t code, std::string_view) override { closed = code; }
};

}  // namespace

TEST_F(RoomFixture, JoinIsWelcomedWithTheFloorState) {
  const auto a = joined("  Ana ");
  auto w = peer(a).last<proto::Welcome>();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->name, "Ana");
  EXPECT_EQ(w->client_id, a);
  EXPECT_FALSE(w->floor.taken);
  EXPECT_EQ(w->max_talk_ms, 120000u);
  EXPECT_EQ(room->joined_count(), 1u);
}

TEST_F(RoomFixture, TwoStudentsWithOneNameAreToldApart) {
  joined("Ana");
  const auto b = joined("Ana");
  const auto c = joined("Ana");
  EXPECT_EQ(peer(b).last<proto::Welcome>()->name, "Ana (2)");
  EXPECT_EQ(peer(c).last<proto::Welcome>()->name, "Ana (3)");
  const std::string long_name(32, 'x');
  joined(long_name);
  const auto d = joined(long_name);
  const auto name = peer(d).last<proto::Welcome>()->name;
  EXPECT_EQ(name.size(), 32u);
  EXPECT_EQ(name.substr(28), " (2)");
}

TEST_F(RoomFixture, ANameThatDiffersOnlyByInvisibleCharactersIsToldApart) {
  joined("Ana");
  const auto b = joined("A\u200B" "na");        // zero-width space
  const auto c = joined("\u202E" "Ana\u00A0");  // right-to-left override, no-break space
  EXPECT_EQ(peer(b).last<proto::Welcome>()->name, "Ana (2)");
  EXPECT_EQ(peer(c).last<proto::Welcome>()->name, "Ana (3)");
  // The suffix cuts a 32-letter name on code points, not bytes.
  std::string umlauts;
  for (int i = 0; i < 32; ++i) umlauts += "\xc3\xb6";
  joined(umlauts);
  const auto d = joined(umlauts);
  EXPECT_EQ(peer(d).last<proto::Welcome>()->name, umlauts.substr(0, 2 * 28) + " (2)");
}

TEST_F(RoomFixture, BadNameIsRefusedAndOnlyThatClientClosed) {
  const auto a = joined("Ana");
  const auto bad = joined("bell\x07");
  EXPECT_EQ(peer(bad).last<proto::Error>()->code, proto::ErrorCode::bad_name);
  EXPECT_EQ(peer(bad).closed, close_code::policy);
  EXPECT_FALSE(peer(a).closed);
  EXPECT_EQ(room->client_count(), 1u);
}

TEST_F(RoomFixture, RoomCodeIsRequiredWhenSet) {
  config.room_code = "4711";
  make_room();
  const auto none = connect();
  send(none, proto::Join{"Ana", ""});
  EXPECT_EQ(peer(none).last<proto::Error>()->code, proto::ErrorCode::bad_room_code);
  EXPECT_EQ(peer(none).closed, close_code::policy);
  const auto wrong = connect();
  send(wrong, proto::Join{"Ana", "0000"});
  EXPECT_EQ(peer(wrong).closed, close_code::policy);
  const auto right = joined("Ana");
  EXPECT_TRUE(peer(right).last<proto::Welcome>());
}

TEST_F(RoomFixture, RoomCodeGuessingIsRateLimitedPerSourceAddress) {
  config.room_code = "4711";
  make_room();
  const std::string guesser = "198.51.100.7";
  auto guess = [&](const std::string& code, const std::string& from) {
    const auto id = connect(from);
    send(id, proto::Join{"Eve", code});
    return id;
  };
  // Asking without a code (the page's first try) is not a guess; five wrong codes are allowed.
  EXPECT_EQ(peer(guess("", guesser)).last<proto::Error>()->code, proto::ErrorCode::bad_room_code);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(peer(guess("000" + std::to_string(i), guesser)).last<proto::Error>()->code,
              proto::ErrorCode::bad_room_code);
  // Then even the right code is refused from that address, with a reason the page can show...
  const auto locked = guess("4711", guesser);
  EXPECT_EQ(peer(locked).last<proto::Error>()->code, proto::ErrorCode::rate_limited);
  EXPECT_EQ(peer(locked).closed, close_code::policy);
  EXPECT_FALSE(peer(locked).last<proto::Welcome>());
  // ...while a student on another address joins as usual.
  EXPECT_TRUE(peer(guess("4711", "192.0.2.20")).last<proto::Welcome>());
  // One guess is forgiven every 20 s: a guess after 20 s is judged again, the one after it is refused.
  advance(20'000ms);
  EXPECT_EQ(peer(guess("0009", guesser)).last<proto::Error>()->code, proto::ErrorCode::bad_room_code);
  EXPECT_EQ(peer(guess("4711", guesser)).last<proto::Error>()->code, proto::ErrorCode::rate_limited);
  advance(20'000ms);
  EXPECT_TRUE(peer(guess("4711", guesser)).last<proto::Welcome>());
  EXPECT_EQ(room->stats().room_code_refusals, 8u);  // 6 wrong codes, 2 joins refused while over the limit
}

TEST_F(RoomFixture, OnlyJoinPingAndPongBeforeJoin) {
  const auto a = connect();
  send(a, proto::FloorRequest{});
  EXPECT_EQ(peer(a).last<proto::Error>()->code, proto::ErrorCode::not_joined);
  send(a, proto::Ping{123});
  auto pong = peer(a).last<proto::Pong>();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->t0, 123u);
  EXPECT_EQ(pong->t1, wall_us);
  EXPECT_FALSE(peer(a).closed);
  send(a, proto::Join{"Ana", ""});
  send(a, proto::Join{"Ana", ""});
  EXPECT_EQ(peer(a).last<proto::Error>()->code, proto::ErrorCode::already_joined);
}

TEST_F(RoomFixture, GrantDenyReleaseAreBroadcast) {
  const auto a = joined("Ana"), b = joined("Ben"), c = joined("Cy");
  send(a, proto::FloorRequest{});
  const auto talk = granted_talk(a);
  ASSERT_NE(talk, 0u);
  for (auto id : {a, b, c}) {
    auto s = peer(id).last<proto::FloorState>();
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->taken);
    EXPECT_EQ(s->holder, "Ana");
    EXPECT_EQ(s->talk_id, talk);
  }
  send(b, proto::FloorRequest{});
  auto d = peer(b).last<proto::FloorDenied>();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, proto::DenyReason::busy);
  EXPECT_EQ(d->holder, "Ana");
  EXPECT_EQ(sink.started, std::vector<std::uint32_t>{talk});
  EXPECT_EQ(sink.speakers, std::vector<std::string>{"Ana"});

  send(a, proto::FloorRelease{talk});
  for (auto id : {a, b, c}) EXPECT_FALSE(peer(id).last<proto::FloorState>()->taken);
  EXPECT_EQ(sink.ended, std::vector<std::uint32_t>{talk});
  send(b, proto::FloorRequest{});
  EXPECT_NE(granted_talk(b), 0u);
}

TEST_F(RoomFixture, ReleaseByANonHolderIsRefused) {
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  send(b, proto::FloorRelease{granted_talk(a)});
  EXPECT_EQ(peer(b).last<proto::Error>()->code, proto::ErrorCode::not_holder);
  EXPECT_TRUE(room->floor_state().taken);
}

TEST_F(RoomFixture, HolderDisconnectFreesTheFloorForEveryone) {
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  room->disconnect(a, now);
  EXPECT_FALSE(peer(b).last<proto::FloorState>()->taken);
  EXPECT_EQ(sink.ended.size(), 1u);
  room->disconnect(a, now);  // twice is harmless
  EXPECT_EQ(room->client_count(), 1u);
}

TEST_F(RoomFixture, MaxTalkTimeRevokes) {
  config.floor.max_talk = 2s;
  make_room();
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  const auto talk = granted_talk(a);
  for (int i = 0; i < 19; ++i) {
    advance(100ms);
    send(a, proto::Pong{wall_us, wall_us, wall_us});  // stays responsive
  }
  EXPECT_TRUE(room->floor_state().taken);
  advance(200ms);
  auto r = peer(a).last<proto::FloorRevoked>();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->talk_id, talk);
  EXPECT_EQ(r->reason, proto::RevokeReason::max_time);
  EXPECT_FALSE(peer(b).last<proto::FloorState>()->taken);
}

TEST_F(RoomFixture, SilentHolderIsRevokedAsUnresponsive) {
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  advance(2900ms);
  send(b, proto::Pong{wall_us, wall_us, wall_us});  // Ben answering does not keep Ana's floor
  EXPECT_TRUE(room->floor_state().taken);
  advance(200ms);
  EXPECT_EQ(peer(a).last<proto::FloorRevoked>()->reason, proto::RevokeReason::unresponsive);
  EXPECT_FALSE(room->floor_state().taken);
}

TEST_F(RoomFixture, ServerPingsEveryClientEverySecond) {
  const auto a = joined("Ana");
  const auto before = peer(a).all<proto::Ping>().size();
  advance(3000ms);
  EXPECT_EQ(peer(a).all<proto::Ping>().size() - before, 3u);
}

TEST_F(RoomFixture, PongGivesTheClientClockOffsetThatPutsCaptureTimesOnTheRoomsClock) {
  const auto a = joined("Ana");
  advance(1000ms);
  const auto ping = peer(a).last<proto::Ping>();
  ASSERT_TRUE(ping);
  // The client's clock runs 250 ms ahead; the round trip is 2 ms.
  wall_us = ping->t0 + 2000;
  const std::uint64_t client = ping->t0 + 1000 + 250'000;
  send(a, proto::Pong{ping->t0, client, client});
  send(a, proto::FloorRequest{});
  const auto talk = granted_talk(a);
  // A frame captured 30 ms ago by the client's clock, one without a capture time, and one from a
  // clock a day off (not believed).
  audio(a, audio_frame(talk, 0, 0, wall_us + 250'000 - 30'000));
  audio(a, audio_frame(talk, 1));
  audio(a, audio_frame(talk, 2, 0, wall_us + 250'000 - 86'400'000'000ull));
  ASSERT_EQ(sink.frames.size(), 3u);
  EXPECT_EQ(sink.frames[0].talker, a);
  EXPECT_EQ(sink.frames[0].arrival, now);
  EXPECT_EQ(sink.frames[0].capture, now - 30ms);
  EXPECT_EQ(sink.frames[1].capture, TimePoint{});
  EXPECT_EQ(sink.frames[2].capture, TimePoint{});
}

TEST_F(RoomFixture, OnlyTheHoldersAudioForTheCurrentTalkReachesTheSink) {
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  const auto talk = granted_talk(a);
  audio(a, audio_frame(talk, 1));
  audio(b, audio_frame(talk, 2));      // not the holder
  audio(a, audio_frame(talk + 5, 3));  // wrong talk
  audio(a, audio_frame(talk, 4));
  ASSERT_EQ(sink.frames.size(), 2u);
  EXPECT_EQ(sink.frames[0].sequence, 1);
  EXPECT_EQ(sink.frames[1].sequence, 4);
  EXPECT_EQ(room->stats().audio_dropped, 2u);
  EXPECT_FALSE(peer(b).closed);  // in-flight audio is not an error
  send(a, proto::FloorRelease{talk});
  audio(a, audio_frame(talk, 5));  // after release: stale
  EXPECT_EQ(sink.frames.size(), 2u);
}

TEST_F(RoomFixture, MalformedAudioClosesOnlyThatClientAndFreesItsFloor) {
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  auto frame = audio_frame(granted_talk(a));
  frame[1] = 0x80;  // reserved flag
  audio(a, frame);
  EXPECT_EQ(peer(a).last<proto::Error>()->code, proto::ErrorCode::bad_flags);
  EXPECT_EQ(peer(a).closed, close_code::protocol_error);
  EXPECT_FALSE(peer(b).closed);
  EXPECT_FALSE(peer(b).last<proto::FloorState>()->taken);
  EXPECT_EQ(sink.frames.size(), 0u);
}

// Audio before join is refused as any other message before join: not_joined, the frame ignored
// (not even decoded), the connection open.
TEST_F(RoomFixture, AudioBeforeJoinIsAnsweredNotJoinedAndIgnored) {
  const auto a = connect();
  audio(a, audio_frame(1));
  ASSERT_TRUE(peer(a).last<proto::Error>());
  EXPECT_EQ(peer(a).last<proto::Error>()->code, proto::ErrorCode::not_joined);
  EXPECT_FALSE(peer(a).closed);
  auto malformed = audio_frame(1);
  malformed[1] = 0x80;  // a reserved flag: would close a joined client
  advance(1'000ms);  // (told at most once a second)
  audio(a, malformed);
  EXPECT_EQ(peer(a).all<proto::Error>().size(), 2u);
  EXPECT_EQ(peer(a).last<proto::Error>()->code, proto::ErrorCode::not_joined);
  EXPECT_FALSE(peer(a).closed);
  EXPECT_TRUE(sink.frames.empty());
  send(a, proto::Join{"Ana", ""});
  EXPECT_TRUE(peer(a).last<proto::Welcome>());
  send(a, proto::FloorRequest{});
  audio(a, audio_frame(granted_talk(a)));
  EXPECT_EQ(sink.frames.size(), 1u);
}

// Only an oversized message (1009) and invalid UTF-8 (1007) close; whatever else is wrong with a
// control message is answered with an error and the connection stays.
TEST_F(RoomFixture, BadTextGetsTheRightCloseCode) {
  const auto ok = joined("Ok");
  const auto big = joined("Big"), utf = joined("Utf"), junk = joined("Junk"), field = joined("Field");
  text(big, R"({"type":"join","name":")" + std::string(2000, 'a') + "\"}");
  text(utf, "{\"type\":\"floor_request\",\"x\":\"\xff\"}");
  text(junk, "{not json");
  text(field, R"({"type":"floor_release","talk":"seven"})");
  EXPECT_EQ(peer(big).closed, close_code::too_big);
  EXPECT_EQ(peer(big).last<proto::Error>()->code, proto::ErrorCode::too_large);
  EXPECT_EQ(peer(utf).closed, close_code::bad_payload);
  EXPECT_FALSE(peer(junk).closed);
  EXPECT_FALSE(peer(field).closed);
  EXPECT_EQ(peer(junk).last<proto::Error>()->code, proto::ErrorCode::malformed_json);
  EXPECT_EQ(peer(field).last<proto::Error>()->code, proto::ErrorCode::bad_field);
  EXPECT_FALSE(peer(ok).closed);
  EXPECT_EQ(room->client_count(), 3u);
}

// malformed_json, missing_field, bad_field and unknown_type, before and after join: each is
// answered with an error naming it, and the client goes on as if it had not been sent.
TEST_F(RoomFixture, MalformedControlMessagesAreAnsweredAndTheConnectionStays) {
  const std::vector<std::pair<std::string, proto::ErrorCode>> cases = {
      {"{not json", proto::ErrorCode::malformed_json},
      {"[1,2]", proto::ErrorCode::malformed_json},
      {R"({"name":"Ana"})", proto::ErrorCode::missing_field},
      {R"({"type":"join"})", proto::ErrorCode::missing_field},
      {R"({"type":"floor_release"})", proto::ErrorCode::missing_field},
      {R"({"type":"join","name":5})", proto::ErrorCode::bad_field},
      {R"({"type":"floor_release","talk":-1})", proto::ErrorCode::bad_field},
      {R"({"type":"ping","t0":"now"})", proto::ErrorCode::bad_field},
      {R"({"type":"shout"})", proto::ErrorCode::unknown_type},
  };
  const auto a = connect();
  auto try_all = [&] {
    for (const auto& [t, code] : cases) {
      const auto errors = peer(a).all<proto::Error>().size();
      text(a, t);
      ASSERT_EQ(peer(a).all<proto::Error>().size(), errors + 1) << t;
      EXPECT_EQ(peer(a).last<proto::Error>()->code, code) << t;
      EXPECT_FALSE(peer(a).closed) << t;
    }
  };
  try_all();
  send(a, proto::Join{"Ana", ""});
  ASSERT_TRUE(peer(a).last<proto::Welcome>());
  try_all();
  send(a, proto::FloorRequest{});
  EXPECT_NE(granted_talk(a), 0u);
  EXPECT_EQ(room->stats().protocol_errors, 2 * cases.size());
}

// A join's name over 128 bytes or room code over 32 bytes is a bad name or code like any other:
// bad_name / bad_room_code and close 1008 (not the decoder's generic bad_field); a code over its
// length counts as a wrong guess.
TEST_F(RoomFixture, OverlongNameOrRoomCodeIsRefusedAsABadNameOrCode) {
  auto join_raw = [&](const std::string& name, const std::string& code, const std::string& from = "192.0.2.1") {
    const auto id = connect(from);
    send(id, proto::Join{name, code});
    return id;
  };
  const auto long_name = join_raw(std::string(129, 'a'), "");
  EXPECT_EQ(peer(long_name).last<proto::Error>()->code, proto::ErrorCode::bad_name);
  EXPECT_EQ(peer(long_name).closed, close_code::policy);
  const auto long_code = join_raw("Ben", std::string(33, '1'));
  EXPECT_EQ(peer(long_code).last<proto::Error>()->code, proto::ErrorCode::bad_room_code);
  EXPECT_EQ(peer(long_code).closed, close_code::policy);
  // 128 bytes is within the limit: 32 four-byte characters are a good name.
  std::string emoji;
  for (int i = 0; i < 32; ++i) emoji += "\xF0\x9F\x98\x80";
  ASSERT_EQ(emoji.size(), 128u);
  const auto ok = join_raw(emoji, "");
  ASSERT_TRUE(peer(ok).last<proto::Welcome>());
  // Once joined, any second join is refused as such and the connection stays.
  send(ok, proto::Join{std::string(200, 'b'), ""});
  EXPECT_EQ(peer(ok).last<proto::Error>()->code, proto::ErrorCode::already_joined);
  EXPECT_FALSE(peer(ok).closed);

  config.room_code = "4711";
  make_room();
  const std::string guesser = "198.51.100.7";
  for (int i = 0; i < 5; ++i) {
    const auto id = join_raw("Eve", std::string(40, '0'), guesser);
    EXPECT_EQ(peer(id).last<proto::Error>()->code, proto::ErrorCode::bad_room_code);
    EXPECT_EQ(peer(id).closed, close_code::policy);
  }
  EXPECT_EQ(peer(join_raw("Eve", "4711", guesser)).last<proto::Error>()->code, proto::ErrorCode::rate_limited);
  EXPECT_EQ(room->stats().room_code_refusals, 6u);
  const auto named = join_raw(std::string(129, 'c'), "4711", "192.0.2.30");
  EXPECT_EQ(peer(named).last<proto::Error>()->code, proto::ErrorCode::bad_name);
  EXPECT_EQ(peer(named).closed, close_code::policy);
  EXPECT_EQ(room->client_count(), 0u);
}

// A client that presses and lets go before the grant reaches it sends floor_release 0: that cancels
// the talk it was granted, as a release of its id would (the floor does not stay with a client
// that has let go until max_talk). In queue mode the next in line is granted.
TEST_F(RoomFixture, CancelEndsAGrantStillOnItsWay) {
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  const auto talk = granted_talk(a);
  ASSERT_NE(talk, 0u);
  send(a, proto::FloorRelease{0});  // crossed the grant on the wire
  EXPECT_FALSE(peer(a).last<proto::Error>());
  EXPECT_FALSE(room->floor_state().taken);
  EXPECT_FALSE(peer(b).last<proto::FloorState>()->taken);
  EXPECT_EQ(sink.ended, std::vector<std::uint32_t>{talk});
  // The grant's own release, arriving after the cancel, names a talk that is over.
  send(a, proto::FloorRelease{talk});
  EXPECT_EQ(peer(a).last<proto::Error>()->code, proto::ErrorCode::stale_talk);
  send(b, proto::FloorRequest{});
  EXPECT_NE(granted_talk(b), 0u);

  config.floor.mode = FloorMode::queue;
  make_room();
  const auto c = joined("Cy"), d = joined("Di"), e = joined("Ed");
  send(c, proto::FloorRequest{});
  send(d, proto::FloorRequest{});
  send(e, proto::FloorRequest{});
  send(c, proto::FloorRelease{granted_talk(c)});
  const auto d_talk = granted_talk(d);
  ASSERT_NE(d_talk, 0u);
  send(d, proto::FloorRelease{0});
  EXPECT_FALSE(peer(d).last<proto::Error>());
  EXPECT_NE(granted_talk(e), 0u);
  EXPECT_EQ(room->floor_state().holder, "Ed");
  EXPECT_EQ(peer(c).last<proto::FloorState>()->holder, "Ed");
  // A queued client's cancel leaves the queue.
  send(c, proto::FloorRequest{});
  EXPECT_EQ(peer(c).last<proto::FloorDenied>()->position, 1u);
  send(c, proto::FloorRelease{0});
  EXPECT_EQ(room->floor_state().queue_length, 0u);
  EXPECT_EQ(room->floor_state().holder, "Ed");
}

// docs/PROTOCOL.md section 4: releasing a talk that was issued and is over is stale_talk; the
// current talk held by someone else, or a talk id never issued, is not_holder.
TEST_F(RoomFixture, ReleaseOfATalkThatIsOverIsStaleOfAnyOtherIsNotHolder) {
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  const auto first = granted_talk(a);
  send(a, proto::FloorRelease{first});
  send(b, proto::FloorRequest{});
  const auto second = granted_talk(b);
  ASSERT_GT(second, first);
  send(a, proto::FloorRelease{first});
  EXPECT_EQ(peer(a).last<proto::Error>()->code, proto::ErrorCode::stale_talk);
  send(a, proto::FloorRelease{second});
  EXPECT_EQ(peer(a).last<proto::Error>()->code, proto::ErrorCode::not_holder);
  send(b, proto::FloorRelease{second + 7});
  EXPECT_EQ(peer(b).last<proto::Error>()->code, proto::ErrorCode::not_holder);
  send(b, proto::FloorRelease{first});
  EXPECT_EQ(peer(b).last<proto::Error>()->code, proto::ErrorCode::stale_talk);
  EXPECT_EQ(room->floor_state().talk_id, second);
  EXPECT_FALSE(peer(a).closed);
}

TEST_F(RoomFixture, UnknownAndServerOnlyTypesGetAnErrorButStayOpen) {
  const auto a = joined("Ana");
  text(a, R"({"type":"shout"})");
  EXPECT_EQ(peer(a).last<proto::Error>()->code, proto::ErrorCode::unknown_type);
  send(a, proto::FloorGranted{1, 1});
  EXPECT_EQ(peer(a).last<proto::Error>()->code, proto::ErrorCode::unknown_type);
  EXPECT_FALSE(peer(a).closed);
  send(a, proto::FloorRequest{});
  EXPECT_NE(granted_talk(a), 0u);
}

TEST_F(RoomFixture, FloorRequestsAreRateLimited) {
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  int rate_limited = 0;
  for (int i = 0; i < 20; ++i) {
    send(b, proto::FloorRequest{});
    rate_limited += peer(b).last<proto::FloorDenied>()->reason == proto::DenyReason::rate_limited;
  }
  EXPECT_EQ(rate_limited, 15);  // burst of 5
  advance(1000ms);
  send(b, proto::Pong{wall_us, wall_us, wall_us});
  send(b, proto::FloorRequest{});
  EXPECT_EQ(peer(b).last<proto::FloorDenied>()->reason, proto::DenyReason::busy);
}

TEST_F(RoomFixture, JoinAndIdleTimeouts) {
  const auto lurker = connect();
  const auto a = joined("Ana");
  advance(9900ms);
  EXPECT_FALSE(peer(lurker).closed);
  advance(200ms);
  EXPECT_EQ(peer(lurker).closed, close_code::policy);
  EXPECT_EQ(peer(lurker).last<proto::Error>()->code, proto::ErrorCode::not_joined);
  advance(5000ms);  // Ana never answered a ping: 15 s idle
  EXPECT_EQ(peer(a).closed, close_code::going_away);
  EXPECT_FALSE(peer(a).last<proto::Error>());  // no error code fits silence: the close says it
  EXPECT_EQ(room->client_count(), 0u);
}

TEST_F(RoomFixture, ConnectionLimit) {
  config.max_clients = 3;
  make_room();
  EXPECT_NE(connect(), 0u);
  EXPECT_NE(connect(), 0u);
  const auto third = connect();
  EXPECT_NE(third, 0u);
  EXPECT_EQ(connect(), 0u);
  room->disconnect(third, now);
  EXPECT_NE(connect(), 0u);
}

// One student (one address) cannot take every slot: past max_clients_per_address its connections
// are refused with rate_limited; other addresses, and the laptop's own loopback, are not.
TEST_F(RoomFixture, ConnectionsPerAddressAreCapped) {
  config.max_clients = 100;
  config.max_clients_per_address = 3;
  make_room();
  std::vector<ClientId> mine;
  for (int i = 0; i < 3; ++i) mine.push_back(connect("203.0.113.9"));
  for (auto id : mine) EXPECT_NE(id, 0u);
  auto p = std::make_shared<FakePeer>();
  proto::Error refusal;
  EXPECT_EQ(room->connect(p, now, "203.0.113.9", &refusal), 0u);
  EXPECT_EQ(refusal.code, proto::ErrorCode::rate_limited);
  EXPECT_NE(connect("203.0.113.10"), 0u);
  for (int i = 0; i < 10; ++i) EXPECT_NE(connect("127.0.0.1"), 0u);
  room->disconnect(mine.back(), now);  // a slot of its own comes back
  EXPECT_NE(connect("203.0.113.9"), 0u);
  EXPECT_EQ(connect("203.0.113.9"), 0u);
}

// Audio before join is answered at most once a second, as a flood over the rate is.
TEST_F(RoomFixture, AudioBeforeJoinIsAnsweredAtMostOnceASecond) {
  const auto a = connect();
  for (int i = 0; i < 50; ++i) audio(a, audio_frame(1));
  EXPECT_EQ(peer(a).all<proto::Error>().size(), 1u);
  advance(1'000ms);
  audio(a, audio_frame(1));
  EXPECT_EQ(peer(a).all<proto::Error>().size(), 2u);
}

TEST_F(RoomFixture, QueueModeGrantsInOrderAndUpdatesPositions) {
  config.floor.mode = FloorMode::queue;
  make_room();
  const auto a = joined("Ana"), b = joined("Ben"), c = joined("Cy");
  send(a, proto::FloorRequest{});
  send(b, proto::FloorRequest{});
  send(c, proto::FloorRequest{});
  EXPECT_EQ(peer(b).last<proto::FloorDenied>()->position, 1u);
  EXPECT_EQ(peer(c).last<proto::FloorDenied>()->position, 2u);
  EXPECT_EQ(peer(c).last<proto::FloorDenied>()->reason, proto::DenyReason::queued);
  EXPECT_EQ(peer(a).last<proto::FloorState>()->queue_length, 2u);
  send(a, proto::FloorRelease{granted_talk(a)});
  EXPECT_NE(granted_talk(b), 0u);
  EXPECT_EQ(peer(c).last<proto::FloorDenied>()->position, 1u);
  EXPECT_EQ(peer(c).last<proto::FloorDenied>()->holder, "Ben");
  EXPECT_EQ(peer(a).last<proto::FloorState>()->holder, "Ben");
}

// Each queued client is sent its place when it changes, and only then: n arrivals cost n messages,
// not n^2 / 2; one leaving tells only those behind it; a new holder tells everyone in line.
TEST_F(RoomFixture, QueuedClientsAreToldOnlyWhenTheirPlaceChanges) {
  config.floor.mode = FloorMode::queue;
  config.floor_request_burst = 100;
  make_room();
  const auto holder = joined("Ana");
  send(holder, proto::FloorRequest{});
  std::vector<ClientId> line;
  for (int i = 0; i < 20; ++i) line.push_back(joined("Q" + std::to_string(i)));
  for (auto id : line) send(id, proto::FloorRequest{});
  auto denials = [&](ClientId id) { return peer(id).all<proto::FloorDenied>(); };
  for (std::size_t k = 0; k < line.size(); ++k) {
    const auto d = denials(line[k]);
    ASSERT_EQ(d.size(), 1u) << "client " << k;
    EXPECT_EQ(d[0].position, k + 1);
    EXPECT_EQ(d[0].holder, "Ana");
    peer(line[k]).clear();
  }
  // Asking again is answered with the place, unchanged.
  send(line[3], proto::FloorRequest{});
  ASSERT_EQ(denials(line[3]).size(), 1u);
  EXPECT_EQ(denials(line[3])[0].position, 4u);
  peer(line[3]).clear();
  // The fifth leaves: the fifteen behind it move up, the four ahead hear nothing.
  send(line[4], proto::FloorRelease{0});
  for (std::size_t k = 0; k < line.size(); ++k) {
    if (k == 4) continue;
    const auto d = denials(line[k]);
    if (k < 4) {
      EXPECT_TRUE(d.empty()) << "client " << k;
    } else {
      ASSERT_EQ(d.size(), 1u) << "client " << k;
      EXPECT_EQ(d[0].position, k);
    }
    peer(line[k]).clear();
  }
  // The holder lets go: the first in line is granted, everyone else has a new place and holder.
  send(holder, proto::FloorRelease{granted_talk(holder)});
  EXPECT_NE(granted_talk(line[0]), 0u);
  EXPECT_TRUE(denials(line[0]).empty());
  std::uint32_t expected = 0;
  for (std::size_t k = 1; k < line.size(); ++k) {
    if (k == 4) continue;
    const auto d = denials(line[k]);
    ASSERT_EQ(d.size(), 1u) << "client " << k;
    EXPECT_EQ(d[0].position, ++expected);
    EXPECT_EQ(d[0].holder, "Q0");
  }
}

// Binary frames: 120 a second with a burst of 500, counted before decoding; the excess is dropped
// and counted, the client told at most once a second, the connection kept. A steady real-time
// talker, and one sending a stalled backlog at once, are never cut.
TEST_F(RoomFixture, AudioFramesAreRateLimitedPerClient) {
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  const auto talk = granted_talk(a);
  auto rate_errors = [&](ClientId id) {
    std::size_t n = 0;
    for (const auto& e : peer(id).all<proto::Error>()) n += e.code == proto::ErrorCode::rate_limited;
    return n;
  };
  std::uint16_t seq = 0;
  for (int i = 0; i < 650; ++i) audio(a, audio_frame(talk, seq++));
  EXPECT_EQ(sink.frames.size(), 500u);
  EXPECT_EQ(room->stats().audio_rate_limited, 150u);
  EXPECT_EQ(rate_errors(a), 1u);
  // Over the limit a frame is not even decoded: a malformed one does not close.
  auto malformed = audio_frame(talk);
  malformed[1] = 0x80;
  audio(a, malformed);
  EXPECT_FALSE(peer(a).closed);
  EXPECT_EQ(room->stats().audio_rate_limited, 151u);
  // Ben's frames count against Ben's limit, not Ana's.
  for (int i = 0; i < 550; ++i) audio(b, audio_frame(talk, 9000));
  EXPECT_EQ(room->stats().audio_dropped, 500u);  // not the holder
  EXPECT_EQ(room->stats().audio_rate_limited, 201u);
  EXPECT_EQ(rate_errors(b), 1u);
  // A second later: 120 more frames, and one more error for the rest.
  advance(1000ms);
  send(a, proto::Pong{wall_us, wall_us, wall_us});
  for (int i = 0; i < 200; ++i) audio(a, audio_frame(talk, seq++));
  EXPECT_EQ(sink.frames.size(), 620u);
  EXPECT_EQ(room->stats().audio_rate_limited, 281u);
  EXPECT_EQ(rate_errors(a), 2u);
  EXPECT_FALSE(peer(a).closed);
  EXPECT_NE(room->status_json().find("\"audio_rate_limited\":281"), std::string::npos);

  // Refilled: the page's 10 ms packets for 10 s, then a 2.9 s stall sent as one backlog, then on
  // in real time.
  advance(2000ms);
  const auto before = sink.frames.size();
  for (int i = 0; i < 1000; ++i) {
    now += 10ms;
    audio(a, audio_frame(talk, seq++));
  }
  now += 2900ms;
  for (int i = 0; i < 290; ++i) audio(a, audio_frame(talk, seq++));
  for (int i = 0; i < 500; ++i) {
    now += 10ms;
    audio(a, audio_frame(talk, seq++));
  }
  EXPECT_EQ(sink.frames.size() - before, 1790u);
  EXPECT_EQ(rate_errors(a), 2u);
  EXPECT_EQ(room->stats().audio_rate_limited, 281u);
}

TEST_F(RoomFixture, AdminRevokeAndCloseAll) {
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  room->revoke_floor(now);
  EXPECT_EQ(peer(a).last<proto::FloorRevoked>()->reason, proto::RevokeReason::admin);
  EXPECT_NE(room->status_json().find("\"talks\":1"), std::string::npos);
  room->close_all(close_code::going_away, "bye", now);
  EXPECT_EQ(peer(a).closed, close_code::going_away);
  EXPECT_EQ(peer(b).closed, close_code::going_away);
  EXPECT_EQ(room->client_count(), 0u);
}

TEST_F(RoomFixture, ModeratedRequestsWaitUntilTheProfessorGrants) {
  config.floor.mode = FloorMode::moderated;
  make_room();
  const auto a = joined("Ana"), b = joined("Ben");
  EXPECT_TRUE(peer(a).last<proto::Welcome>()->queue_mode);
  send(b, proto::FloorRequest{});
  // Free floor, and still in line: told so, with nobody named as holder.
  auto told = peer(b).last<proto::FloorDenied>();
  ASSERT_TRUE(told);
  EXPECT_EQ(told->reason, proto::DenyReason::queued);
  EXPECT_EQ(told->position, 1u);
  EXPECT_EQ(told->holder, "");
  EXPECT_FALSE(peer(b).last<proto::FloorGranted>());
  EXPECT_EQ(room->floor_state().queue_length, 1u);
  EXPECT_NE(room->status_json().find(R"("position":1,"state":"queued")"), std::string::npos) << room->status_json();
  // Audio before the grant goes nowhere.
  audio(b, audio_frame(1));
  EXPECT_TRUE(sink.frames.empty());

  EXPECT_FALSE(room->grant_floor(a, now));  // Ana is not in line
  ASSERT_TRUE(room->grant_floor(b, now));
  const auto talk = granted_talk(b);
  ASSERT_NE(talk, 0u);
  EXPECT_EQ(peer(a).last<proto::FloorState>()->holder, "Ben");
  audio(b, audio_frame(talk));
  EXPECT_EQ(sink.frames.size(), 1u);
  // Ana asks while Ben talks: in line behind nobody else, Ben named.
  send(a, proto::FloorRequest{});
  EXPECT_EQ(peer(a).last<proto::FloorDenied>()->holder, "Ben");
  EXPECT_FALSE(room->grant_floor(a, now));  // the floor is taken
  send(b, proto::FloorRelease{talk});
  EXPECT_FALSE(room->floor_state().taken);  // nobody granted without the professor
  // Her place is unchanged and the holder is gone: she is told so.
  EXPECT_EQ(peer(a).last<proto::FloorDenied>()->holder, "");
  EXPECT_TRUE(room->grant_floor(a, now));
  EXPECT_NE(granted_talk(a), 0u);
}

TEST_F(RoomFixture, DequeueAndModeChangesTellThoseWhoLeaveTheLine) {
  config.floor.mode = FloorMode::queue;
  make_room();
  const auto a = joined("Ana"), b = joined("Ben"), c = joined("Cleo");
  send(a, proto::FloorRequest{});
  send(b, proto::FloorRequest{});
  send(c, proto::FloorRequest{});
  ASSERT_TRUE(room->dequeue(b, now));
  EXPECT_EQ(peer(b).last<proto::FloorDenied>()->reason, proto::DenyReason::busy);
  EXPECT_EQ(peer(c).last<proto::FloorDenied>()->position, 1u);  // moved up
  EXPECT_FALSE(room->dequeue(b, now));
  // To first come: the line goes, Cleo is told the floor is busy, Ana keeps it.
  ASSERT_TRUE(room->set_floor_mode(FloorMode::first_come, now));
  EXPECT_FALSE(room->set_floor_mode(FloorMode::first_come, now));
  EXPECT_EQ(peer(c).last<proto::FloorDenied>()->reason, proto::DenyReason::busy);
  EXPECT_EQ(peer(c).last<proto::FloorDenied>()->holder, "Ana");
  EXPECT_EQ(room->floor_state().queue_length, 0u);
  EXPECT_EQ(room->floor_state().holder, "Ana");
  EXPECT_NE(room->status_json().find(R"("floor_mode":"first_come")"), std::string::npos);
  // A student joining now is told the room has no line.
  EXPECT_FALSE(peer(joined("Dev")).last<proto::Welcome>()->queue_mode);
}

TEST_F(RoomFixture, ARemovedStudentIsClosedAndCannotRejoinUnderThatNameForTheBlock) {
  config.removal_block = 60s;
  make_room();
  const auto a = joined("Ana");
  const auto b = connect("10.9.9.9");
  text(b, proto::encode_control(proto::Join{"Ben", ""}));
  send(b, proto::FloorRequest{});
  ASSERT_TRUE(room->floor_state().taken);
  ASSERT_TRUE(room->remove_client(b, now));
  EXPECT_EQ(peer(b).closed, close_code::policy);
  EXPECT_EQ(peer(b).last<proto::Error>()->code, proto::ErrorCode::removed);
  EXPECT_FALSE(room->floor_state().taken);  // the floor freed with the student
  EXPECT_EQ(peer(a).last<proto::FloorState>()->taken, false);
  EXPECT_FALSE(room->remove_client(b, now));  // gone already

  // The page rejoins at once under the same name: refused, with the time left.
  advance(1s);
  const auto again = connect("10.9.9.9");
  text(again, proto::encode_control(proto::Join{"Ben", ""}));
  EXPECT_EQ(peer(again).closed, close_code::policy);
  auto refused = peer(again).last<proto::Error>();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, proto::ErrorCode::removed);
  EXPECT_NE(refused->message.find("59 s"), std::string::npos) << refused->message;
  // Nor in other case, nor with the suffix the room gives namesakes.
  for (const char* variant : {"ben", "BEN", "Ben (2)", "ben (17)"}) {
    const auto sly = connect("10.9.9.9");
    text(sly, proto::encode_control(proto::Join{variant, ""}));
    EXPECT_EQ(peer(sly).last<proto::Error>()->code, proto::ErrorCode::removed) << variant;
  }
  // Another student behind the same address, and the same name elsewhere, are not blocked.
  const auto other = connect("10.9.9.9");
  text(other, proto::encode_control(proto::Join{"Bea", ""}));
  EXPECT_TRUE(peer(other).last<proto::Welcome>());
  const auto elsewhere = connect("10.9.9.10");
  text(elsewhere, proto::encode_control(proto::Join{"Ben", ""}));
  EXPECT_TRUE(peer(elsewhere).last<proto::Welcome>());
  // After the block the name is welcome again from that address.
  advance(60s);
  const auto later = connect("10.9.9.9");
  text(later, proto::encode_control(proto::Join{"Ben", ""}));
  EXPECT_TRUE(peer(later).last<proto::Welcome>());
}

// The console's channel: it is sent the room's view at once and after each change, its actions go
// through the room's rules, and bad ones are answered without closing it.
TEST_F(RoomFixture, TheConsoleSeesTheRoomAndActsThroughItsRules) {
  const auto a = joined("Ana");
  auto console = std::make_shared<FakeConsole>();
  const auto id = room->connect_console(console, now);
  ASSERT_FALSE(console->views.empty());
  EXPECT_EQ(console->views.back()["clients"][0]["name"], "Ana");
  EXPECT_EQ(console->views.back()["mode"], "first_come");
  auto act = [&](const std::string& text) {
    room->on_console_text(id, text, now);
    return console->answers.back();
  };
  send(a, proto::FloorRequest{});
  advance(300ms);
  EXPECT_EQ(console->views.back()["floor"]["holder"], "Ana");
  EXPECT_EQ(act(R"({"type":"revoke"})")["changed"], true);
  EXPECT_EQ(peer(a).last<proto::FloorRevoked>()->reason, proto::RevokeReason::admin);
  EXPECT_EQ(act(R"({"type":"revoke"})")["changed"], false);
  EXPECT_EQ(act(R"({"type":"mode","mode":"moderated"})")["changed"], true);
  EXPECT_EQ(room->floor_mode(), FloorMode::moderated);
  // The speakers: muted (the audio path's gain 0), the volume kept for when it is unmuted.
  EXPECT_EQ(act(R"({"type":"output","muted":true})")["changed"], true);
  EXPECT_EQ(sink.gain, 0.0f);
  EXPECT_EQ(act(R"({"type":"output","volume":0.5})")["changed"], true);
  EXPECT_EQ(sink.gain, 0.0f);
  EXPECT_EQ(act(R"({"type":"output","muted":false})")["changed"], true);
  EXPECT_EQ(sink.gain, 0.5f);
  EXPECT_EQ(console->views.back()["output"]["volume"], 0.5);
  EXPECT_EQ(room->session_log().entries().back().detail, "unmuted, volume 50 %");
  // Refused, with the channel kept: nothing changes.
  for (const char* bad : {R"({"type":"output","volume":2})", R"({"type":"output","volume":-0.1})", R"({"type":"output"})",
                          R"({"type":"output","muted":"yes"})", R"({"type":"grant"})", R"({"type":"grant","client":-1})",
                          R"({"type":"grant","client":1.5})", R"({"type":"mode","mode":"loud"})", R"({"type":"join"})",
                          R"(not json)", R"([1,2])", R"({"client":1})"}) {
    EXPECT_EQ(act(bad)["type"], "error") << bad;
  }
  EXPECT_EQ(sink.gain, 0.5f);
  EXPECT_EQ(room->floor_mode(), FloorMode::moderated);
  room->disconnect_console(id);
  const auto seen = console->views.size();
  joined("Ben");
  advance(500ms);
  EXPECT_EQ(console->views.size(), seen);  // a closed console is sent nothing
}

// The terminal's lines: each session-log event, and joins, leaves and refusals besides, as they
// happen; a full room is one line per 10 s however many knock.
TEST_F(RoomFixture, EveryEventAProfessorCaresAboutReachesTheTerminal) {
  std::vector<std::string> lines;
  config.room_code = "4711";
  config.max_clients = 2;
  config.on_event = [&](const LogEntry& e) {
    lines.push_back(e.event + "|" + e.student + "|" + e.detail + (e.duration_ms >= 0 ? "|" + std::to_string(e.duration_ms) : ""));
  };
  make_room();
  const auto a = joined("Ana");
  const auto wrong = connect();
  text(wrong, proto::encode_control(proto::Join{"Eve", "1234"}));
  const auto b = joined("Ben");
  send(a, proto::FloorRequest{});
  send(b, proto::FloorRequest{});
  advance(1500ms);
  send(a, proto::FloorRelease{granted_talk(a)});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(connect(), 0u);  // full: a and b (the wrong code's connection is gone)
  room->disconnect(b, now);
  const std::vector<std::string> expected{
      "joined|Ana|1 here", "refused||a wrong room code from 10.1.0.2", "joined|Ben|2 here", "granted|Ana|asked",
      "denied|Ben|Ana was speaking", "ended|Ana|released|1500", "refused||the room is full (2 connections): 1 turned away",
      "left|Ben|1 here"};
  EXPECT_EQ(lines, expected);
  // The session log keeps only the floor's events.
  std::vector<std::string> kept;
  for (const auto& e : room->session_log().entries()) kept.push_back(e.event);
  EXPECT_EQ(kept, (std::vector<std::string>{"granted", "denied", "ended"}));
  advance(10'000ms);
  EXPECT_NE(connect(), 0u);  // Ben's seat
  EXPECT_EQ(connect(), 0u);  // the four held back, and this one
  EXPECT_EQ(lines.back(), "refused||the room is full (2 connections): 5 turned away");
}

TEST_F(RoomFixture, AutoApproveCountsDownForTheFirstInLineAndGrants) {
  config.floor.mode = FloorMode::moderated;
  make_room();
  const auto a = joined("Ana"), b = joined("Ben");
  auto console = std::make_shared<FakeConsole>();
  const auto cid = room->connect_console(console, now);
  send(a, proto::FloorRequest{});
  EXPECT_EQ(peer(a).last<proto::FloorDenied>()->grant_in_ms, 0u);  // off: only the professor grants
  room->on_console_text(cid, R"({"type":"auto_approve","seconds":5})", now);
  EXPECT_EQ(console->answers.back()["changed"], true);
  EXPECT_EQ(console->views.back()["auto_approve_s"], 5);
  EXPECT_EQ(console->views.back()["countdown"]["client"], a);
  // Ana, first in line, is told her countdown at once; Ben, second, has none.
  auto told = peer(a).last<proto::FloorDenied>();
  ASSERT_TRUE(told);
  EXPECT_EQ(told->position, 1u);
  EXPECT_EQ(told->grant_in_ms, 5000u);
  send(b, proto::FloorRequest{});
  EXPECT_EQ(peer(b).last<proto::FloorDenied>()->grant_in_ms, 0u);
  // Asking again while waiting gets the countdown left, not a new one.
  advance(2000ms);
  send(a, proto::FloorRequest{});
  EXPECT_EQ(peer(a).last<proto::FloorDenied>()->grant_in_ms, 3000u);
  advance(2900ms);
  EXPECT_FALSE(room->floor_state().taken);
  advance(100ms);
  ASSERT_NE(granted_talk(a), 0u);
  EXPECT_EQ(room->floor_state().holder, "Ana");
  const auto& log = room->session_log().entries();
  auto granted = std::find_if(log.rbegin(), log.rend(), [](const LogEntry& e) { return e.event == "granted"; });
  ASSERT_NE(granted, log.rend());
  EXPECT_EQ(granted->detail, "auto-approved");
  // Ben waits while Ana talks, with no countdown; it starts when she lets go.
  EXPECT_EQ(peer(b).last<proto::FloorDenied>()->grant_in_ms, 0u);
  send(a, proto::FloorRelease{granted_talk(a)});
  EXPECT_EQ(peer(b).last<proto::FloorDenied>()->grant_in_ms, 5000u);
  // Turned off: Ben is told the countdown stopped, and nothing grants him.
  EXPECT_TRUE(room->set_auto_approve(0ms, now));
  EXPECT_EQ(peer(b).last<proto::FloorDenied>()->grant_in_ms, 0u);
  advance(6000ms);
  EXPECT_FALSE(room->floor_state().taken);
  // Out of range is refused and changes nothing.
  for (const char* bad : {R"({"type":"auto_approve","seconds":61})", R"({"type":"auto_approve","seconds":-1})",
                          R"({"type":"auto_approve"})", R"({"type":"auto_approve","seconds":"5"})"}) {
    room->on_console_text(cid, bad, now);
    EXPECT_EQ(console->answers.back()["type"], "error") << bad;
  }
  EXPECT_EQ(nlohmann::json::parse(room->console_json(now))["auto_approve_s"], 0);
}

TEST_F(RoomFixture, TheConsoleGetsTheLiveTalksLevelAndLoss) {
  const auto a = joined("Ana");
  auto console = std::make_shared<FakeConsole>();
  room->connect_console(console, now);
  advance(500ms);
  EXPECT_TRUE(console->meters.empty());  // nobody live: no meter
  send(a, proto::FloorRequest{});
  const auto talk = granted_talk(a);
  ASSERT_NE(talk, 0u);
  // Packets 0..9 with 3, 4 and 7 never sent: 7 arrived, 3 lost before the server.
  for (std::uint16_t seq : {0, 1, 2, 5, 6, 8, 9}) audio(a, audio_frame(talk, seq));
  sink.meter = LiveMeter{talk, -12.34f, 90, 10};
  advance(200ms);
  ASSERT_FALSE(console->meters.empty());
  auto m = console->meters.back();
  EXPECT_EQ(m["client"], a);
  EXPECT_EQ(m["talk"], talk);
  EXPECT_EQ(m["received"], 7);
  EXPECT_EQ(m["missing"], 3);
  EXPECT_EQ(m["lost_pct"], 30.0);
  EXPECT_NEAR(m["level_db"].get<double>(), -12.3, 0.01);
  EXPECT_EQ(m["late_pct"], 10.0);
  // About ten a second while live.
  const auto before = console->meters.size();
  advance(1000ms);
  EXPECT_GE(console->meters.size() - before, 9u);
  EXPECT_LE(console->meters.size() - before, 11u);
  // A meter for another talk (no device, or a stale reading) is not shown as this one's level.
  sink.meter = LiveMeter{talk + 1, -3.0f, 5, 0};
  advance(100ms);
  EXPECT_TRUE(console->meters.back()["level_db"].is_null());
  EXPECT_FALSE(console->meters.back().contains("late_pct"));
  // Once the talk ends, the student's row keeps its loss, and the meter stops.
  send(a, proto::FloorRelease{talk});
  advance(300ms);
  const auto after = console->meters.size();
  advance(500ms);
  EXPECT_EQ(console->meters.size(), after);
  const auto& row = console->views.back()["clients"][0];
  EXPECT_EQ(row["last_talk"]["received"], 7);
  EXPECT_EQ(row["last_talk"]["lost_pct"], 30.0);

  // A sender's own numbers cannot make the figures absurd: a jump further than a page could have
  // sent meanwhile starts over there, and a packet that fills a gap late takes it back.
  send(a, proto::FloorRequest{});
  const auto talk2 = granted_talk(a);
  for (std::uint16_t seq : {0, 30000, 60000, 24464, 24466, 24465, 24467}) audio(a, audio_frame(talk2, seq));
  advance(100ms);
  EXPECT_EQ(console->meters.back()["talk"], talk2);
  EXPECT_EQ(console->meters.back()["received"], 7);
  EXPECT_EQ(console->meters.back()["missing"], 0);
}

// The console's actions: one that changes nothing sends no view; at most 10 a second (20 at once);
// a login open in more than 8 tabs closes its oldest.
TEST_F(RoomFixture, TheConsolesActionsAreBoundedAndItsTabsCapped) {
  joined("Ana");
  std::vector<std::shared_ptr<FakeConsole>> tabs;
  std::vector<ClientId> ids;
  for (int i = 0; i < 9; ++i) {
    tabs.push_back(std::make_shared<FakeConsole>());
    ids.push_back(room->connect_console(tabs.back(), now, "login-1"));
  }
  EXPECT_EQ(tabs[0]->closed, close_code::try_again_later);
  EXPECT_EQ(tabs[0]->answers.back()["message"], "this console is open in too many tabs: this one closed");
  for (int i = 1; i < 9; ++i) EXPECT_FALSE(tabs[i]->closed) << i;
  auto other = std::make_shared<FakeConsole>();
  room->connect_console(other, now, "login-2");  // another login's tabs are its own
  EXPECT_FALSE(tabs[1]->closed);

  auto& c = *tabs[8];
  const auto views = c.views.size();
  for (int i = 0; i < 20; ++i) room->on_console_text(ids[8], R"({"type":"revoke"})", now);
  EXPECT_EQ(c.views.size(), views);  // nothing to revoke: no view sent
  EXPECT_EQ(c.answers.back()["changed"], false);
  room->on_console_text(ids[8], R"({"type":"revoke"})", now);
  EXPECT_EQ(c.answers.back()["message"], "too many actions: at most 10 a second");
  advance(200ms);
  room->on_console_text(ids[8], R"({"type":"mode","mode":"queue"})", now);
  EXPECT_EQ(c.answers.back()["changed"], true);
  EXPECT_EQ(c.views.back()["mode"], "queue");  // a change is shown at once
  for (const char* bad : {"", "null", "[]", "{\"type\":", "NaN"}) {
    advance(100ms);
    room->on_console_text(ids[8], bad, now);
    EXPECT_EQ(c.answers.back()["message"], "an action is a JSON object with a `type`") << bad;
  }
}

// A student in line asking again is told its place, however often: never rate_limited, which the
// page would read as out of line.
TEST_F(RoomFixture, AskingAgainFromTheLineIsNeverRateLimited) {
  config.floor.mode = FloorMode::queue;
  make_room();
  const auto a = joined("Ana"), b = joined("Ben");
  send(a, proto::FloorRequest{});
  for (int i = 0; i < 20; ++i) send(b, proto::FloorRequest{});
  for (const auto& m : peer(b).received) {
    if (auto* d = std::get_if<proto::FloorDenied>(&m)) {
      EXPECT_EQ(d->reason, proto::DenyReason::queued);
    }
  }
  EXPECT_EQ(peer(b).last<proto::FloorDenied>()->position, 1u);
  for (int i = 0; i < 20; ++i) send(a, proto::FloorRequest{});  // the holder too: its grant again
  EXPECT_FALSE(peer(a).last<proto::FloorDenied>());
}

// With more clients than a broadcast slice, a floor change reaches the first slice at once and the
// rest through continue_broadcast(); the grant and a denial are not held behind the sweep; a
// second change during the sweep means no client is sent a stale state, and every client ends with
// exactly one copy of the newest.
TEST_F(RoomFixture, FloorStateBroadcastGoesOutInSlicesAndCoalesces) {
  config.broadcast_slice = 10;
  config.floor_request_burst = 100;
  make_room();
  std::vector<ClientId> ids;
  for (int i = 0; i < 35; ++i) ids.push_back(joined("S" + std::to_string(i)));
  for (auto id : ids) peer(id).clear();

  send(ids[0], proto::FloorRequest{});
  const auto talk = granted_talk(ids[0]);
  ASSERT_NE(talk, 0u);
  ASSERT_TRUE(room->broadcast_pending());
  auto states_sent = [&] {
    int n = 0;
    for (auto id : ids) n += static_cast<int>(peer(id).all<proto::FloorState>().size());
    return n;
  };
  EXPECT_EQ(states_sent(), 10);
  // A press during the sweep is answered at once, from a client the sweep has not reached.
  send(ids[30], proto::FloorRequest{});
  auto denied = peer(ids[30]).last<proto::FloorDenied>();
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->holder, "S0");
  EXPECT_TRUE(peer(ids[30]).all<proto::FloorState>().empty());

  room->continue_broadcast();
  EXPECT_EQ(states_sent(), 20);
  // The holder lets go mid-sweep: the sweep starts over with the newer state.
  send(ids[0], proto::FloorRelease{talk});
  int rounds = 0;
  while (room->broadcast_pending() && rounds < 100) {
    room->continue_broadcast();
    ++rounds;
  }
  EXPECT_FALSE(room->broadcast_pending());
  EXPECT_EQ(rounds, 3);  // 35 clients, 10 of them in the release's own first slice
  for (auto id : ids) {
    const auto states = peer(id).all<proto::FloorState>();
    ASSERT_FALSE(states.empty()) << "client " << id;
    EXPECT_FALSE(states.back().taken) << "client " << id;
    // Those the first sweep had reached got the taken state, then the free one; the rest only the free one.
    const bool reached_first = id <= ids[19];
    EXPECT_EQ(states.size(), reached_first ? 2u : 1u) << "client " << id;
  }
  // A student joining now is welcomed with the state and not sent it again.
  const auto late = joined("Late");
  EXPECT_FALSE(room->broadcast_pending());
  EXPECT_TRUE(peer(late).all<proto::FloorState>().empty());
  EXPECT_FALSE(peer(late).last<proto::Welcome>()->floor.taken);
}

// 20 clients, 10,000 random presses, releases, disconnects (and rejoins), audio frames and clock
// steps, mixed with the professor's actions (grant, revoke, dequeue, remove, mode changes,
// auto-approve), in each
// starting mode. After every step: at most one client believes it holds the floor, and it is the
// room's holder; every client's last floor_state matches the room's; audio reached the sink only
// from the holder for the current talk; no one is in line in first-come mode.
TEST_F(RoomFixture, RandomisedOperationsKeepEveryViewConsistent) {
  config.floor_request_burst = 1e9;  // rate limits are tested above; here every press counts
  config.messages_per_s = 1e9;
  config.message_burst = 1e9;
  config.audio_frame_burst = 1e9;
  for (FloorMode start_mode : {FloorMode::first_come, FloorMode::queue, FloorMode::moderated}) {
    config.floor.mode = start_mode;
    make_room();
    peers.clear();
    sink = CountingSink{};
    std::mt19937 rng(42 + static_cast<int>(start_mode) * 7);
    std::vector<ClientId> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(joined("S" + std::to_string(i)));
    std::map<ClientId, std::uint32_t> believes;  // talk id each client thinks it holds

    auto update_beliefs = [&](ClientId id) {
      for (const auto& m : peer(id).received) {
        if (auto* g = std::get_if<proto::FloorGranted>(&m)) believes[id] = g->talk_id;
        if (std::get_if<proto::FloorRevoked>(&m)) believes[id] = 0;
        if (auto* s = std::get_if<proto::FloorState>(&m); s && s->holder_id != id) believes[id] = 0;
      }
    };
    std::map<ClientId, proto::FloorState> views;
    int countdowns = 0;

    for (int step = 0; step < 10'000; ++step) {
      const std::size_t k = rng() % ids.size();
      const ClientId id = ids[k];
      const int op = static_cast<int>(rng() % 112);
      const auto sent_frames = sink.frames.size();
      const auto holder_before = room->floor_state();
      bool audio_sent = false;
      std::uint32_t audio_talk = 0;
      if (op < 35) {
        send(id, proto::FloorRequest{});
      } else if (op < 60) {
        send(id, proto::FloorRelease{believes[id] ? believes[id] : static_cast<std::uint32_t>(rng() % 3)});
        believes[id] = 0;
      } else if (op < 68) {
        room->disconnect(id, now);
        peers.erase(id);
        believes.erase(id);
        views.erase(id);
        ids[k] = joined("S" + std::to_string(step));
        continue;
      } else if (op < 95) {
        audio_talk = (rng() % 4 == 0) ? holder_before.talk_id + 1 : believes[id];
        if (audio_talk == 0) audio_talk = 1;
        audio(id, audio_frame(audio_talk, static_cast<std::uint16_t>(step)));
        audio_sent = true;
      } else if (op < 100) {
        room->grant_floor(id, now);
      } else if (op < 102) {
        room->dequeue(id, now);
      } else if (op < 103) {
        room->revoke_floor(now);
      } else if (op < 104) {
        room->set_floor_mode(static_cast<FloorMode>(rng() % 3), now);
      } else if (op < 105) {
        if (room->remove_client(id, now)) {
          ASSERT_EQ(peer(id).closed, close_code::policy);
          peers.erase(id);
          believes.erase(id);
          views.erase(id);
          ids[k] = joined("R" + std::to_string(step));
          continue;
        }
      } else if (op < 107) {
        room->set_auto_approve(std::chrono::milliseconds(200 * (rng() % 3)), now);  // off, 0.2 or 0.4 s
      } else {
        advance(100ms);
        for (auto cid : ids) send(cid, proto::Pong{wall_us, wall_us, wall_us});
      }

      if (audio_sent) {
        const bool should_play = holder_before.taken && holder_before.holder_id == id && holder_before.talk_id == audio_talk;
        ASSERT_EQ(sink.frames.size() - sent_frames, should_play ? 1u : 0u) << "step " << step;
      }
      const auto truth = room->floor_state();
      int believers = 0;
      for (auto cid : ids) {
        for (const auto& m : peer(cid).received) {
          if (auto* s = std::get_if<proto::FloorState>(&m)) views[cid] = *s;
          if (auto* w = std::get_if<proto::Welcome>(&m)) views[cid] = w->floor;
        }
        update_beliefs(cid);
        peer(cid).received.clear();
        ASSERT_EQ(views[cid].taken, truth.taken) << "step " << step << " client " << cid;
        ASSERT_EQ(views[cid].holder_id, truth.holder_id) << "step " << step;
        ASSERT_EQ(views[cid].talk_id, truth.talk_id) << "step " << step;
        if (believes[cid] != 0) {
          ++believers;
          ASSERT_EQ(truth.holder_id, cid) << "step " << step;
          ASSERT_EQ(truth.talk_id, believes[cid]) << "step " << step;
        }
      }
      ASSERT_LE(believers, 1) << "step " << step;
      ASSERT_EQ(believers, truth.taken ? 1 : 0) << "step " << step;
      if (room->floor_mode() == FloorMode::first_come) {
        ASSERT_EQ(truth.queue_length, 0u) << "step " << step;
      }
      // An auto-approve countdown runs only on a free floor in moderated mode, for the first in line.
      if (const auto& countdown = room->floor().auto_grant()) {
        ++countdowns;
        ASSERT_FALSE(truth.taken) << "step " << step;
        ASSERT_EQ(room->floor_mode(), FloorMode::moderated) << "step " << step;
        ASSERT_FALSE(room->floor().queue().empty()) << "step " << step;
        ASSERT_EQ(room->floor().queue().front(), countdown->client) << "step " << step;
        ASSERT_GT(countdown->at, now - 1ms) << "step " << step;  // a countdown that ended has granted
      }
    }
    EXPECT_GT(room->stats().talks, 100u);
    EXPECT_GT(room->stats().audio_accepted, 50u);
    EXPECT_GT(room->stats().audio_dropped, 100u);
    EXPECT_GT(countdowns, 10);
  }
}

// Students who connected at different times are pinged at different ticks: a tick never pings the
// whole room at once.
TEST_F(RoomFixture, PingsFollowEachClientsOwnSchedule) {
  std::vector<ClientId> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(joined("S" + std::to_string(i)));
    advance(100ms);
  }
  for (auto id : ids) peer(id).clear();
  for (int tick = 0; tick < 10; ++tick) {
    advance(100ms);
    std::size_t pinged = 0;
    for (auto id : ids) pinged += peer(id).all<proto::Ping>().size();
    EXPECT_EQ(pinged, static_cast<std::size_t>(tick + 1)) << "one more student per tick";
  }
  for (auto id : ids) EXPECT_EQ(peer(id).all<proto::Ping>().size(), 1u);
}
