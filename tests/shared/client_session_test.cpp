// The student's side of docs/PROTOCOL.md section 5, driven message by message as the server would
// answer: what the session sends, what it tells the capture, and what the page shows.
#include "ptt/client_session.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

namespace ptt {
namespace {

namespace proto = protocol;
using State = ClientSession::State;
using Reason = ClientSession::Reason;
using Cmd = ClientSession::CaptureCommand;

class Session : public ::testing::Test {
 protected:
  // Joins as `name` and answers with a welcome (floor free unless given).
  void join(bool queue_mode = false, proto::FloorState floor = {}) {
    const std::string text = s.open("  Ana ", "");
    proto::ControlMessage m;
    ASSERT_EQ(proto::decode_control(text, m), proto::ErrorCode::ok);
    ASSERT_EQ(std::get<proto::Join>(m).name, "Ana");
    EXPECT_EQ(s.state(), State::connecting);
    server(proto::Welcome{3, "Ana", 120000, queue_mode, floor});
    ASSERT_EQ(s.state(), State::ready);
    drain();
  }
  void server(const proto::ControlMessage& m) { ASSERT_TRUE(s.receive(proto::encode_control(m), now_ms, now_us)); }
  // What the session sent since the last call, decoded.
  std::vector<proto::ControlMessage> sent() {
    std::vector<proto::ControlMessage> out;
    for (const auto& text : s.take_outgoing()) {
      proto::ControlMessage m;
      EXPECT_EQ(proto::decode_control(text, m), proto::ErrorCode::ok) << text;
      out.push_back(m);
    }
    return out;
  }
  std::vector<ClientSession::Capture> capture() { return s.take_capture(); }
  void drain() {
    sent();
    capture();
    s.take_view_changed();
    s.take_tone();
  }
  static proto::FloorState taken(std::uint32_t id, const std::string& name, std::uint32_t talk, std::uint32_t queue = 0) {
    return {true, id, name, talk, queue, false};
  }
  static proto::FloorState free_floor() { return {}; }

  ClientSession s;
  double now_ms = 1000;
  std::uint64_t now_us = 1'795'000'000'000'000;
};

bool is_request(const proto::ControlMessage& m) { return std::holds_alternative<proto::FloorRequest>(m); }
std::uint32_t release_talk(const proto::ControlMessage& m) {
  EXPECT_TRUE(std::holds_alternative<proto::FloorRelease>(m));
  return std::holds_alternative<proto::FloorRelease>(m) ? std::get<proto::FloorRelease>(m).talk_id : ~0u;
}

TEST_F(Session, PressIsGrantedAndReleaseNamesTheTalk) {
  join();
  s.press(now_ms);
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is_request(out[0]));
  auto cap = capture();
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].command, Cmd::press);  // the pre-roll starts at the press
  EXPECT_EQ(s.state(), State::requesting);

  now_ms = 1040;
  server(proto::FloorGranted{7, 60000});
  EXPECT_EQ(s.state(), State::live);
  EXPECT_EQ(s.max_talk_ms(), 60000u);
  EXPECT_EQ(s.live_since_ms(), 1040);
  EXPECT_TRUE(s.take_tone());
  cap = capture();
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].command, Cmd::grant);
  EXPECT_EQ(cap[0].talk_id, 7u);
  server(taken(3, "Ana", 7));
  EXPECT_TRUE(s.floor_mine());

  // The same grant again (the server's idempotent answer) changes nothing.
  server(proto::FloorGranted{7, 60000});
  EXPECT_TRUE(capture().empty());
  EXPECT_FALSE(s.take_tone());

  s.release(now_ms);
  out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(release_talk(out[0]), 7u);
  cap = capture();
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].command, Cmd::release);
  EXPECT_EQ(s.state(), State::ready);
}

TEST_F(Session, BusyNamesTheHolderDropsThePrerollAndAsksAgainWhenFreeWhileHeld) {
  join(false, taken(9, "Bo", 4));
  EXPECT_TRUE(s.floor_taken());
  EXPECT_EQ(s.floor_holder(), "Bo");
  EXPECT_FALSE(s.floor_mine());
  s.press(now_ms);
  drain();
  server(proto::FloorDenied{proto::DenyReason::busy, "Bo", 0});
  EXPECT_EQ(s.state(), State::busy);
  EXPECT_EQ(s.reason(), Reason::busy);
  EXPECT_EQ(s.holder(), "Bo");
  auto cap = capture();
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].command, Cmd::release);  // what is said now goes nowhere
  EXPECT_TRUE(sent().empty());

  // The floor passes to someone else: still busy, the new holder named.
  server(taken(11, "Cy", 5));
  EXPECT_EQ(s.state(), State::busy);
  EXPECT_EQ(s.holder(), "Cy");
  // Free while still held: the session asks again, with a fresh pre-roll.
  server(free_floor());
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is_request(out[0]));
  cap = capture();
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].command, Cmd::press);
  EXPECT_EQ(s.state(), State::requesting);
  server(proto::FloorGranted{6, 120000});
  EXPECT_EQ(s.state(), State::live);
}

TEST_F(Session, LettingGoWhileBusySendsNothing) {
  join(false, taken(9, "Bo", 4));
  s.press(now_ms);
  server(proto::FloorDenied{proto::DenyReason::busy, "Bo", 0});
  drain();
  s.release(now_ms);
  EXPECT_TRUE(sent().empty());
  EXPECT_TRUE(capture().empty());  // already released at the denial
  EXPECT_EQ(s.state(), State::ready);
  server(free_floor());
  EXPECT_TRUE(sent().empty());  // not held: no request
  EXPECT_EQ(s.state(), State::ready);
}

TEST_F(Session, QueuedKeepsThePrerollAndGoesLiveWhenGranted) {
  join(true, taken(9, "Bo", 4));
  EXPECT_TRUE(s.queue_mode());
  s.press(now_ms);
  drain();
  server(proto::FloorDenied{proto::DenyReason::queued, "Bo", 2});
  EXPECT_EQ(s.state(), State::queued);
  EXPECT_EQ(s.position(), 2u);
  EXPECT_EQ(s.holder(), "Bo");
  EXPECT_TRUE(capture().empty());  // the pre-roll keeps running in line
  server(proto::FloorDenied{proto::DenyReason::queued, "Bo", 1});
  EXPECT_EQ(s.position(), 1u);
  EXPECT_TRUE(s.take_view_changed());
  server(free_floor());  // Bo let go: the grant follows without asking again
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(s.state(), State::queued);
  server(proto::FloorGranted{5, 120000});
  EXPECT_EQ(s.state(), State::live);
  auto cap = capture();
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].command, Cmd::grant);
  EXPECT_EQ(cap[0].talk_id, 5u);
  s.release(now_ms);
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(release_talk(out[0]), 5u);
}

TEST_F(Session, TheFirstInLineSeesTheAutoApproveCountdown) {
  join(true);
  s.press(now_ms);
  server(proto::FloorDenied{proto::DenyReason::queued, "", 2});
  EXPECT_EQ(s.grant_at_ms(), 0);
  drain();
  server(proto::FloorDenied{proto::DenyReason::queued, "", 1, 5000});
  EXPECT_EQ(s.position(), 1u);
  EXPECT_EQ(s.grant_at_ms(), now_ms + 5000);
  EXPECT_TRUE(s.take_view_changed());
  // The professor turned it off: the countdown goes, the place stays.
  server(proto::FloorDenied{proto::DenyReason::queued, "", 1});
  EXPECT_EQ(s.grant_at_ms(), 0);
  server(proto::FloorDenied{proto::DenyReason::queued, "", 1, 3000});
  server(proto::FloorGranted{7, 120000});
  EXPECT_EQ(s.state(), State::live);
  EXPECT_EQ(s.grant_at_ms(), 0);  // live: no countdown
}

TEST_F(Session, LettingGoInLineKeepsTheHandRaisedAndASecondPressLowersIt) {
  join(true, taken(9, "Bo", 4));
  s.press(now_ms);
  server(proto::FloorDenied{proto::DenyReason::queued, "Bo", 1});
  drain();
  s.release(now_ms);
  // Nothing is sent: the place in line stays; the microphone stops.
  EXPECT_TRUE(sent().empty());
  auto cap = capture();
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].command, Cmd::release);
  EXPECT_EQ(s.state(), State::queued);
  EXPECT_TRUE(s.hand_raised());
  EXPECT_TRUE(s.take_view_changed());
  // The line moves: still told, still in it.
  server(proto::FloorDenied{proto::DenyReason::queued, "Bo", 1, 0});
  EXPECT_EQ(s.position(), 1u);
  // A second press lowers the hand (0 also hands back a grant on its way); its release does nothing more.
  s.press(now_ms);
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(release_talk(out[0]), 0u);
  EXPECT_EQ(s.state(), State::ready);
  EXPECT_FALSE(s.hand_raised());
  s.release(now_ms);
  EXPECT_TRUE(sent().empty());
  EXPECT_TRUE(capture().empty());
  // A queued answer still in flight changes nothing now.
  server(proto::FloorDenied{proto::DenyReason::queued, "Bo", 1});
  EXPECT_EQ(s.state(), State::ready);
  // Without a line (first come) letting go while asking cancels at once, as before.
  ClientSession plain;
  plain.open("Ana", "");
  ASSERT_TRUE(plain.receive(proto::encode_control(proto::Welcome{3, "Ana", 120000, false, taken(9, "Bo", 4)}), now_ms, now_us));
  plain.press(now_ms);
  plain.take_outgoing();
  plain.release(now_ms);
  auto cancel = plain.take_outgoing();
  ASSERT_EQ(cancel.size(), 1u);
  EXPECT_NE(cancel[0].find(R"("talk":0)"), std::string::npos);
  EXPECT_FALSE(plain.hand_raised());
}

TEST_F(Session, AModeChangedAfterTheWelcomeIsLearntFromTheAnswers) {
  join(false, taken(9, "Bo", 4));  // first come when this student joined
  EXPECT_FALSE(s.queue_mode());
  s.press(now_ms);
  ASSERT_EQ(sent().size(), 1u);  // the request
  server(proto::FloorDenied{proto::DenyReason::queued, "Bo", 1});  // the professor made a line since
  EXPECT_TRUE(s.queue_mode());
  s.release(now_ms);
  EXPECT_TRUE(s.hand_raised());
  EXPECT_TRUE(sent().empty());  // no release: the hand stays up
  s.press(now_ms);  // lowers it
  s.release(now_ms);
  drain();
  s.press(now_ms);
  server(proto::FloorDenied{proto::DenyReason::busy, "Bo", 0});  // and back to first come
  EXPECT_FALSE(s.queue_mode());
  s.release(now_ms);
  EXPECT_FALSE(s.hand_raised());
}

TEST_F(Session, AModeChangeBroadcastAsAFloorStateMakesTheFirstTapRaiseAHand) {
  join(false, taken(9, "Bo", 4));
  auto lined = taken(9, "Bo", 4);
  lined.queue_mode = true;
  server(lined);  // the professor switched to queue mode
  EXPECT_TRUE(s.queue_mode());
  s.press(now_ms);
  s.release(now_ms + 50);  // a tap, before any answer
  EXPECT_TRUE(s.hand_raised());
  drain();
  server(proto::FloorDenied{proto::DenyReason::queued, "Bo", 1});
  EXPECT_EQ(s.state(), State::queued);
}

TEST_F(Session, TheFloorComingToARaisedHandWaitsForThePress) {
  join(true, taken(9, "Bo", 4));
  s.press(now_ms);
  server(proto::FloorDenied{proto::DenyReason::queued, "Bo", 1});
  s.release(now_ms);
  drain();
  now_ms += 20000;  // a long wait in line
  server(proto::FloorGranted{6, 120000});
  EXPECT_EQ(s.state(), State::your_turn);
  EXPECT_TRUE(s.take_tone());
  EXPECT_EQ(s.turn_ends_at_ms(), now_ms + ClientSession::kYourTurnMs);
  EXPECT_EQ(s.wake_at_ms(), now_ms + ClientSession::kYourTurnMs);
  EXPECT_TRUE(capture().empty());  // nothing is captured before the press
  server(proto::FloorGranted{6, 120000});  // repeated: nothing changes
  EXPECT_EQ(s.state(), State::your_turn);
  now_ms += 2000;
  s.tick(now_ms);
  EXPECT_EQ(s.state(), State::your_turn);
  s.press(now_ms);
  EXPECT_EQ(s.state(), State::live);
  EXPECT_EQ(s.live_since_ms(), now_ms);
  auto cap = capture();
  ASSERT_EQ(cap.size(), 2u);
  EXPECT_EQ(cap[0].command, Cmd::press);
  EXPECT_EQ(cap[1].command, Cmd::grant);
  EXPECT_EQ(cap[1].talk_id, 6u);
  EXPECT_TRUE(sent().empty());  // the floor was already this student's
  s.release(now_ms + 3000);
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(release_talk(out[0]), 6u);
  EXPECT_EQ(s.state(), State::ready);
}

TEST_F(Session, ATurnNotTakenUpIsHandedBack) {
  join(true);
  s.press(now_ms);  // a tap on a free floor in queue mode raises the hand too
  s.release(now_ms + 100);
  EXPECT_TRUE(s.hand_raised());
  drain();
  server(proto::FloorGranted{8, 120000});
  ASSERT_EQ(s.state(), State::your_turn);
  s.tick(now_ms + ClientSession::kYourTurnMs - 1);
  EXPECT_EQ(s.state(), State::your_turn);
  s.tick(now_ms + ClientSession::kYourTurnMs);
  EXPECT_EQ(s.state(), State::ready);
  EXPECT_EQ(s.reason(), Reason::turn_missed);
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(release_talk(out[0]), 8u);
  EXPECT_EQ(s.wake_at_ms(), 0);
  // The professor takes back a turn not yet taken up: the student is told, as for a live talk.
  s.press(now_ms);
  s.release(now_ms);
  drain();
  server(proto::FloorGranted{9, 120000});
  server(proto::FloorRevoked{9, proto::RevokeReason::admin});
  EXPECT_EQ(s.state(), State::ready);
  EXPECT_EQ(s.reason(), Reason::admin);
}

TEST_F(Session, AGrantAfterLettingGoIsAlreadyHandedBack) {
  join();
  s.press(now_ms);
  drain();
  s.release(now_ms);
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(release_talk(out[0]), 0u);  // 0 ends the grant on its way (rule 6)
  drain();
  server(proto::FloorGranted{8, 120000});
  EXPECT_EQ(s.state(), State::ready);
  EXPECT_TRUE(sent().empty());  // releasing talk 8 again would be answered stale_talk
  EXPECT_TRUE(capture().empty());
  EXPECT_FALSE(s.take_tone());
}

TEST_F(Session, RevokedForEachReasonStopsTheCaptureAndSaysWhy) {
  const std::pair<proto::RevokeReason, Reason> reasons[] = {
      {proto::RevokeReason::max_time, Reason::max_time},
      {proto::RevokeReason::unresponsive, Reason::unresponsive},
      {proto::RevokeReason::silence, Reason::silence},
      {proto::RevokeReason::admin, Reason::admin}};
  join();
  std::uint32_t talk = 10;
  for (const auto& [wire, shown] : reasons) {
    for (bool still_held : {true, false}) {
      SCOPED_TRACE(std::string(ClientSession::to_string(shown)) + (still_held ? " held" : " not held"));
      s.press(now_ms);
      server(proto::FloorGranted{++talk, 120000});
      ASSERT_EQ(s.state(), State::live);
      drain();
      server(proto::FloorRevoked{talk + 100, wire});  // another talk's revoke: not this one
      EXPECT_EQ(s.state(), State::live);
      if (!still_held) {
        // Let go in the same instant the revoke crossed: the release names the talk; the revoke
        // then finds nothing live.
        s.release(now_ms);
        drain();
        server(proto::FloorRevoked{talk, wire});
        EXPECT_EQ(s.state(), State::ready);
        EXPECT_TRUE(capture().empty());
        continue;
      }
      server(proto::FloorRevoked{talk, wire});
      EXPECT_EQ(s.state(), State::revoked);
      EXPECT_EQ(s.reason(), shown);
      auto cap = capture();
      ASSERT_EQ(cap.size(), 1u);
      EXPECT_EQ(cap[0].command, Cmd::release);
      s.release(now_ms);
      EXPECT_TRUE(sent().empty());  // the talk is over: nothing to release
      EXPECT_EQ(s.state(), State::ready);
    }
  }
}

TEST_F(Session, ARateLimitedPressStillHeldAsksAgainASecondLater) {
  join();
  s.press(now_ms);
  drain();
  server(proto::FloorDenied{proto::DenyReason::rate_limited, "", 0});
  EXPECT_EQ(s.state(), State::busy);
  EXPECT_EQ(s.reason(), Reason::rate_limited);
  EXPECT_EQ(capture().size(), 1u);
  EXPECT_EQ(s.wake_at_ms(), now_ms + ClientSession::kRateRetryMs);
  s.tick(now_ms + ClientSession::kRateRetryMs - 1);
  EXPECT_TRUE(sent().empty());
  s.tick(now_ms + ClientSession::kRateRetryMs);
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is_request(out[0]));
  EXPECT_EQ(s.state(), State::requesting);
  EXPECT_EQ(s.wake_at_ms(), 0);

  // Let go before the retry: nothing is asked.
  server(proto::FloorDenied{proto::DenyReason::rate_limited, "", 0});
  s.release(now_ms);
  drain();
  s.tick(now_ms + 10 * ClientSession::kRateRetryMs);
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(s.state(), State::ready);
}

TEST_F(Session, ReconnectStopsTheTalkAndAsksAgainIfStillHeld) {
  join();
  s.press(now_ms);
  server(proto::FloorGranted{7, 120000});
  drain();
  s.closed();
  EXPECT_EQ(s.state(), State::unreachable);
  EXPECT_EQ(s.reason(), Reason::connection_lost);
  auto cap = capture();
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].command, Cmd::release);
  EXPECT_FALSE(s.floor_taken());
  // A server message from before the close, read late, changes nothing while unreachable.
  s.receive(proto::encode_control(taken(3, "Ana", 7)), now_ms, now_us);
  EXPECT_EQ(s.state(), State::unreachable);

  // Back, still holding the button: the welcome asks for the floor again.
  ASSERT_FALSE(s.open("Ana", "").empty());
  server(proto::Welcome{4, "Ana", 120000, false, {}});
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is_request(out[0]));
  EXPECT_EQ(s.state(), State::requesting);
  server(proto::FloorGranted{8, 120000});
  EXPECT_EQ(s.state(), State::live);
  s.release(now_ms);
  out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(release_talk(out[0]), 8u);

  // Pressed while unreachable: remembered, asked for at the welcome.
  s.closed();
  drain();
  s.press(now_ms);
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(s.state(), State::unreachable);
  s.open("Ana", "");
  server(proto::Welcome{5, "Ana", 120000, false, {}});
  EXPECT_EQ(s.state(), State::requesting);
}

TEST_F(Session, RefusedJoinsAreRejectedWithTheirReason) {
  EXPECT_TRUE(s.open("\u200B", "").empty());
  EXPECT_EQ(s.state(), State::rejected);
  EXPECT_EQ(s.reason(), Reason::bad_name);

  for (auto [code, reason] : {std::pair{proto::ErrorCode::bad_name, Reason::bad_name},
                              std::pair{proto::ErrorCode::bad_room_code, Reason::bad_room_code},
                              std::pair{proto::ErrorCode::rate_limited, Reason::guess_limit},
                              std::pair{proto::ErrorCode::removed, Reason::removed}}) {
    ASSERT_FALSE(s.open("Ana", "x").empty());
    server(proto::Error{code, "no"});
    EXPECT_EQ(s.state(), State::rejected);
    EXPECT_EQ(s.reason(), reason);
    s.closed();
    EXPECT_EQ(s.state(), State::rejected);  // no retry timer for a refused join
  }
  ASSERT_FALSE(s.open("Ana", "").empty());
  server(proto::Error{proto::ErrorCode::server_full, "full"});
  s.closed();
  EXPECT_EQ(s.state(), State::unreachable);
  EXPECT_EQ(s.reason(), Reason::server_full);
}

TEST_F(Session, AnswersPingsOnThePageClockAndRefusesGarbage) {
  join();
  server(proto::Ping{42});
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  const auto& pong = std::get<proto::Pong>(out[0]);
  EXPECT_EQ(pong.t0, 42u);
  EXPECT_EQ(pong.t1, now_us);
  EXPECT_EQ(pong.t2, now_us);
  EXPECT_FALSE(s.receive("{\"type\":\"floor_granted\",\"talk\":0,\"max_talk_ms\":1}", now_ms, now_us));
  EXPECT_FALSE(s.receive("not json", now_ms, now_us));
  EXPECT_EQ(s.state(), State::ready);
}

TEST_F(Session, TheMeterAndTheHintShowOnlyWhileLive) {
  join();
  s.meter(0.5f, 0, now_ms);
  EXPECT_EQ(s.level(), 0.0f);
  EXPECT_FALSE(s.take_view_changed());
  s.press(now_ms);
  server(proto::FloorGranted{7, 120000});
  drain();
  s.meter(0.5f, 0, now_ms);
  EXPECT_TRUE(s.take_view_changed());
  EXPECT_FLOAT_EQ(s.level(), 0.5f);
  s.meter(0.501f, 100, now_ms + 100);
  EXPECT_FALSE(s.take_view_changed());  // the bar would not move
  // Silent since long before the press: the hint waits for 4 s of the talk itself.
  s.meter(0.0f, 60000, now_ms + 200);
  EXPECT_FALSE(s.silence_hint());
  s.meter(0.0f, 60000, now_ms + ClientSession::kSilenceHintMs);
  EXPECT_TRUE(s.silence_hint());
  EXPECT_TRUE(s.take_view_changed());
  s.release(now_ms);
  EXPECT_FALSE(s.silence_hint());
  EXPECT_EQ(s.level(), 0.0f);
}

// The server hears its speakers in this microphone: the student is asked to step back for the rest
// of that talk only; a message about another talk changes nothing.
TEST_F(Session, AFeedbackWarningShowsForItsOwnTalkOnly) {
  join();
  server(proto::Feedback{7, -4, true});  // not live: nothing to show
  EXPECT_FALSE(s.feedback_hint());
  s.press(now_ms);
  server(proto::FloorGranted{8, 120000});
  drain();
  server(proto::Feedback{7, -4, true});  // an older talk's
  EXPECT_FALSE(s.feedback_hint());
  server(proto::Feedback{8, -4, true});
  EXPECT_TRUE(s.feedback_hint());
  EXPECT_TRUE(s.take_view_changed());
  // The capture's gain control stops raising its gain, so it cannot make up for the lowered speakers.
  const auto cap = capture();
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].command, Cmd::hold_gain);
  server(proto::Feedback{8, -4, true});  // said again: nothing more
  EXPECT_TRUE(capture().empty());
  s.release(now_ms);
  EXPECT_FALSE(s.feedback_hint());
  s.press(now_ms);
  server(proto::FloorGranted{9, 120000});
  EXPECT_FALSE(s.feedback_hint()) << "a new talk starts without the warning";
}

// The professor removes a student mid-talk: the capture stops at once and the page explains, with
// no retry (the server would refuse the same name for a while).
TEST_F(Session, RemovedWhileLiveStopsTheCaptureAndDoesNotRetry) {
  join();
  s.press(now_ms);
  server(proto::FloorGranted{7, 60000});
  capture();
  server(proto::Error{proto::ErrorCode::removed, "the professor removed you"});
  EXPECT_EQ(s.state(), State::rejected);
  EXPECT_EQ(s.reason(), Reason::removed);
  auto cap = capture();
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].command, Cmd::release);
  s.closed();
  EXPECT_EQ(s.state(), State::rejected);
}

}  // namespace
}  // namespace ptt

