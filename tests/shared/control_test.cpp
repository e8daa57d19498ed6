// Control messages: every message round-trips, and every rejection path of decode_control.
#include <gtest/gtest.h>

#include <string>

#include "ptt/protocol.hpp"

using namespace ptt::protocol;

namespace {

ControlMessage round_trip(const ControlMessage& m) {
  const std::string text = encode_control(m);
  ControlMessage back;
  std::string detail;
  EXPECT_EQ(decode_control(text, back, &detail), ErrorCode::ok) << text << ": " << detail;
  EXPECT_EQ(back.index(), m.index()) << text;
  return back;
}

ErrorCode decode(std::string_view text, std::string* detail = nullptr) {
  ControlMessage m;
  return decode_control(text, m, detail);
}

FloorState taken_state() {
  FloorState f;
  f.taken = true;
  f.holder_id = 3;
  f.holder = "Ana";
  f.talk_id = 12;
  f.queue_length = 2;
  return f;
}

}  // namespace

TEST(Control, JoinRoundTrip) {
  auto back = std::get<Join>(round_trip(Join{"Zoë Ünal", "ROOM42"}));
  EXPECT_EQ(back.name, "Zoë Ünal");
  EXPECT_EQ(back.room, "ROOM42");
  EXPECT_EQ(std::get<Join>(round_trip(Join{"Bo", ""})).room, "");
}

TEST(Control, FloorRequestAndReleaseRoundTrip) {
  round_trip(FloorRequest{});
  EXPECT_EQ(std::get<FloorRelease>(round_trip(FloorRelease{77})).talk_id, 77u);
}

TEST(Control, WelcomeRoundTrip) {
  Welcome w{5, "Ana (2)", 60000, true, taken_state()};
  auto back = std::get<Welcome>(round_trip(w));
  EXPECT_EQ(back.client_id, 5u);
  EXPECT_EQ(back.name, "Ana (2)");
  EXPECT_EQ(back.max_talk_ms, 60000u);
  EXPECT_TRUE(back.queue_mode);
  EXPECT_EQ(back.floor.holder, "Ana");
  EXPECT_EQ(back.floor.talk_id, 12u);
  EXPECT_EQ(back.floor.queue_length, 2u);
}

TEST(Control, FloorGrantedDeniedRevokedRoundTrip) {
  auto g = std::get<FloorGranted>(round_trip(FloorGranted{9, 30000}));
  EXPECT_EQ(g.talk_id, 9u);
  EXPECT_EQ(g.max_talk_ms, 30000u);
  auto d = std::get<FloorDenied>(round_trip(FloorDenied{DenyReason::busy, "Ana", 0}));
  EXPECT_EQ(d.reason, DenyReason::busy);
  EXPECT_EQ(d.holder, "Ana");
  auto q = std::get<FloorDenied>(round_trip(FloorDenied{DenyReason::queued, "Ana", 3}));
  EXPECT_EQ(q.position, 3u);
  EXPECT_EQ(q.grant_in_ms, 0u);
  EXPECT_EQ(encode_control(FloorDenied{DenyReason::queued, "", 3}).find("grant_in_ms"), std::string::npos);
  auto c = std::get<FloorDenied>(round_trip(FloorDenied{DenyReason::queued, "", 1, 4500}));
  EXPECT_EQ(c.grant_in_ms, 4500u);
  for (auto reason : {RevokeReason::max_time, RevokeReason::unresponsive, RevokeReason::silence, RevokeReason::admin}) {
    auto r = std::get<FloorRevoked>(round_trip(FloorRevoked{4, reason}));
    EXPECT_EQ(r.reason, reason);
    EXPECT_EQ(r.talk_id, 4u);
  }
}

TEST(Control, FloorStateRoundTrip) {
  auto taken = std::get<FloorState>(round_trip(taken_state()));
  EXPECT_TRUE(taken.taken);
  EXPECT_EQ(taken.holder_id, 3u);
  auto lined = std::get<FloorState>(round_trip(FloorState{true, 3, "Ana", 7, 2, true}));
  EXPECT_TRUE(lined.queue_mode);
  auto free_state = std::get<FloorState>(round_trip(FloorState{}));
  EXPECT_FALSE(free_state.queue_mode);
  EXPECT_FALSE(free_state.taken);
  EXPECT_TRUE(free_state.holder.empty());
}

TEST(Control, ErrorRoundTripAndMessageCap) {
  auto e = std::get<Error>(round_trip(Error{ErrorCode::bad_name, "names are 1-32 characters"}));
  EXPECT_EQ(e.code, ErrorCode::bad_name);
  EXPECT_EQ(e.message, "names are 1-32 characters");
  auto long_error = std::get<Error>(round_trip(Error{ErrorCode::internal, std::string(1000, 'x')}));
  EXPECT_EQ(long_error.message.size(), kMaxErrorMessageBytes);
}

TEST(Control, PingPongRoundTripWithLargeTimestamps) {
  const std::uint64_t now = 1'795'000'000'000'000ull;  // 2026 in microseconds since 1970
  EXPECT_EQ(std::get<Ping>(round_trip(Ping{now})).t0, now);
  auto p = std::get<Pong>(round_trip(Pong{now, now + 10, now + 15}));
  EXPECT_EQ(p.t1, now + 10);
  EXPECT_EQ(p.t2, now + 15);
}

TEST(Control, FeedbackRoundTripAndRanges) {
  const auto back = std::get<Feedback>(round_trip(Feedback{9, -7, true}));
  EXPECT_EQ(back.talk_id, 9u);
  EXPECT_EQ(back.coupling_db, -7);
  EXPECT_TRUE(back.lowered);
  EXPECT_EQ(std::get<Feedback>(round_trip(Feedback{1, -99, false})).coupling_db, -99);
  EXPECT_EQ(encode_control(Feedback{9, -7, true}), R"({"coupling_db":-7,"lowered":true,"talk":9,"type":"feedback"})");
  EXPECT_EQ(decode(R"({"type":"feedback","talk":9,"coupling_db":41,"lowered":false})"), ErrorCode::bad_field);
  EXPECT_EQ(decode(R"({"type":"feedback","talk":9,"coupling_db":-100,"lowered":false})"), ErrorCode::bad_field);
  EXPECT_EQ(decode(R"({"type":"feedback","talk":9,"coupling_db":-3.5,"lowered":false})"), ErrorCode::bad_field);
  EXPECT_EQ(decode(R"({"type":"feedback","talk":0,"coupling_db":-3,"lowered":false})"), ErrorCode::bad_field);
  EXPECT_EQ(decode(R"({"type":"feedback","talk":9,"lowered":false})"), ErrorCode::missing_field);
}

TEST(Control, EncodedTextIsCompactJsonWithType) {
  EXPECT_EQ(encode_control(FloorRequest{}), R"({"type":"floor_request"})");
  EXPECT_EQ(encode_control(FloorRelease{5}), R"({"talk":5,"type":"floor_release"})");
}

TEST(Control, UnknownFieldsAreIgnored) {
  EXPECT_EQ(decode(R"({"type":"floor_request","future":[1,2,3]})"), ErrorCode::ok);
}

TEST(Control, InvalidUtf8InAStringIsRepairedWhenEncoding) {
  const std::string text = encode_control(Join{std::string("Ana\xff\xfe"), ""});
  EXPECT_TRUE(is_valid_utf8(text));
  EXPECT_EQ(decode(text), ErrorCode::ok);
}

TEST(ControlRejects, OversizedMessage) {
  std::string text = R"({"type":"join","name":")" + std::string(2000, 'a') + "\"}";
  EXPECT_EQ(decode(text), ErrorCode::too_large);
}

TEST(ControlRejects, InvalidUtf8) {
  EXPECT_EQ(decode("{\"type\":\"join\",\"name\":\"\xc3\x28\"}"), ErrorCode::bad_utf8);
}

TEST(ControlRejects, NotAJsonObject) {
  for (const char* text : {"", "nonsense", "{\"type\":", "[1,2]", "42", "\"join\"", "null"})
    EXPECT_EQ(decode(text), ErrorCode::malformed_json) << text;
}

TEST(ControlRejects, MissingOrBadType) {
  EXPECT_EQ(decode(R"({"name":"x"})"), ErrorCode::missing_field);
  EXPECT_EQ(decode(R"({"type":7})"), ErrorCode::bad_field);
  EXPECT_EQ(decode(R"({"type":"shout"})"), ErrorCode::unknown_type);
  EXPECT_EQ(decode(R"({"type":")" + std::string(200, 'x') + R"("})"), ErrorCode::unknown_type);  // however long
}

TEST(ControlRejects, MissingRequiredFields) {
  const char* cases[] = {
      R"({"type":"join"})",
      R"({"type":"floor_release"})",
      R"({"type":"floor_granted","talk":1})",
      R"({"type":"floor_denied","reason":"busy","holder":"A"})",
      R"({"type":"floor_revoked","talk":1})",
      R"({"type":"floor_state","taken":false,"holder_id":0,"holder":"","talk":0})",
      R"({"type":"error","code":"bad_name"})",
      R"({"type":"ping"})",
      R"({"type":"pong","t0":1,"t1":2})",
      R"({"type":"welcome","id":1,"name":"A","protocol":1,"max_talk_ms":1,"queue_mode":false})",
  };
  for (const char* text : cases) {
    std::string detail;
    EXPECT_EQ(decode(text, &detail), ErrorCode::missing_field) << text;
    EXPECT_NE(detail.find("is required"), std::string::npos) << detail;
  }
}

TEST(ControlRejects, WrongFieldTypesAndRanges) {
  const char* cases[] = {
      R"({"type":"join","name":5})",
      R"({"type":"join","name":"A","room":true})",
      R"({"type":"floor_release","talk":-1})",
      R"({"type":"floor_release","talk":1.5})",
      R"({"type":"floor_release","talk":"1"})",
      R"({"type":"floor_release","talk":4294967296})",
      R"({"type":"floor_granted","talk":0,"max_talk_ms":1})",
      R"({"type":"floor_denied","reason":"tired","holder":"A","position":0})",
      R"({"type":"floor_denied","reason":"queued","holder":"","position":2,"grant_in_ms":5000})",
      R"({"type":"floor_denied","reason":"busy","holder":"A","position":0,"grant_in_ms":5000})",
      R"({"type":"floor_denied","reason":"queued","holder":"","position":1,"grant_in_ms":-1})",
      R"({"type":"floor_revoked","talk":1,"reason":"bored"})",
      R"({"type":"error","code":"no_such","message":"m"})",
      R"({"type":"error","code":"ok","message":"m"})",
      R"({"type":"ping","t0":9007199254740992})",
      R"({"type":"welcome","id":1,"name":"A","protocol":1,"max_talk_ms":1,"queue_mode":0,"floor":{}})",
      R"({"type":"welcome","id":1,"name":"A","protocol":1,"max_talk_ms":1,"queue_mode":false,"floor":[]})",
  };
  for (const char* text : cases) EXPECT_EQ(decode(text), ErrorCode::bad_field) << text;
}

// A join's name over 128 bytes and room code over 32 bytes are refused with the codes the server
// answers any bad name or code with (docs/PROTOCOL.md section 4), the room code first; a member of
// the wrong type is still bad_field, whatever its length.
TEST(ControlRejects, OverlongStrings) {
  std::string name(kMaxNameBytes + 1, 'a');
  std::string detail;
  EXPECT_EQ(decode(R"({"type":"join","name":")" + name + "\"}", &detail), ErrorCode::bad_name);
  EXPECT_NE(detail.find("name"), std::string::npos) << detail;
  std::string room(kMaxRoomCodeBytes + 1, '1');
  EXPECT_EQ(decode(R"({"type":"join","name":"A","room":")" + room + "\"}", &detail), ErrorCode::bad_room_code);
  EXPECT_NE(detail.find("room"), std::string::npos) << detail;
  EXPECT_EQ(decode(R"({"type":"join","name":")" + name + R"(","room":")" + room + "\"}"), ErrorCode::bad_room_code);
  EXPECT_EQ(decode(R"({"type":"join","name":")" + name + R"(","room":7})"), ErrorCode::bad_field);
  // At the limits exactly: accepted.
  EXPECT_EQ(decode(R"({"type":"join","name":")" + std::string(kMaxNameBytes, 'a') + R"(","room":")" +
                   std::string(kMaxRoomCodeBytes, '1') + "\"}"),
            ErrorCode::ok);
  // The limits on server messages' names are unchanged: bad_field.
  EXPECT_EQ(decode(R"({"type":"floor_denied","reason":"busy","holder":")" + name + R"(","position":0})"),
            ErrorCode::bad_field);
}

TEST(ControlRejects, InconsistentValues) {
  // floor_state says taken but names no holder; free but has a talk id
  EXPECT_EQ(decode(R"({"type":"floor_state","taken":true,"holder_id":0,"holder":"","talk":0,"queue":0})"),
            ErrorCode::bad_field);
  EXPECT_EQ(decode(R"({"type":"floor_state","taken":false,"holder_id":0,"holder":"","talk":3,"queue":0})"),
            ErrorCode::bad_field);
  // queued without a position, busy with one
  EXPECT_EQ(decode(R"({"type":"floor_denied","reason":"queued","holder":"A","position":0})"), ErrorCode::bad_field);
  EXPECT_EQ(decode(R"({"type":"floor_denied","reason":"busy","holder":"A","position":2})"), ErrorCode::bad_field);
  // pong answered before the ping arrived
  EXPECT_EQ(decode(R"({"type":"pong","t0":1,"t1":10,"t2":9})"), ErrorCode::bad_field);
  // a welcome from another protocol version
  EXPECT_EQ(decode(R"({"type":"welcome","id":1,"name":"A","protocol":2,"max_talk_ms":1,"queue_mode":false,)"
                   R"("floor":{"taken":false,"holder_id":0,"holder":"","talk":0,"queue":0}})"),
            ErrorCode::bad_version);
}

TEST(ControlRejects, FailureLeavesOutputUntouched) {
  ControlMessage m = Ping{42};
  EXPECT_NE(decode_control(R"({"type":"ping","t0":"x"})", m), ErrorCode::ok);
  ASSERT_TRUE(std::holds_alternative<Ping>(m));
  EXPECT_EQ(std::get<Ping>(m).t0, 42u);
}

TEST(Utf8, ValidatorAcceptsAndRejects) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\xa4"));  // é € 🎤
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated sequence
  EXPECT_FALSE(is_valid_utf8("\x80"));              // lone continuation byte
}

TEST(DisplayName, NormalisationRules) {
  EXPECT_EQ(normalise_display_name("  Ana  ").value_or("?"), "Ana");
  EXPECT_EQ(normalise_display_name("Zoë 🎤").value_or("?"), "Zoë 🎤");
  EXPECT_FALSE(normalise_display_name("").has_value());
  EXPECT_FALSE(normalise_display_name("   ").has_value());
  EXPECT_FALSE(normalise_display_name(std::string("A\0B", 3)).has_value());
  EXPECT_EQ(normalise_display_name("tab\tinside").value_or("?"), "tab inside");  // tab is a space (text_test.cpp)
  EXPECT_FALSE(normalise_display_name("bell\x07").has_value());
  EXPECT_FALSE(normalise_display_name("c1\xc2\x85").has_value());
  EXPECT_FALSE(normalise_display_name("\xff").has_value());
  EXPECT_TRUE(normalise_display_name(std::string(kMaxNameCodePoints, 'a')).has_value());
  EXPECT_FALSE(normalise_display_name(std::string(kMaxNameCodePoints + 1, 'a')).has_value());
  std::string euros;  // 32 three-byte code points: 96 bytes but within the limit
  for (std::size_t i = 0; i < kMaxNameCodePoints; ++i) euros += "\xe2\x82\xac";
  EXPECT_TRUE(normalise_display_name(euros).has_value());
}

TEST(ClockSync, OffsetAndRoundTripFromOnePingPong) {
  // Peer clock runs 5000 us ahead; 300 us each way; 100 us spent answering.
  const Pong p{1000, 1000 + 300 + 5000, 1000 + 300 + 100 + 5000};
  const auto s = clock_sample(p, 1000 + 300 + 100 + 300);
  EXPECT_EQ(s.offset_us, 5000);
  EXPECT_EQ(s.round_trip_us, 600);
}
