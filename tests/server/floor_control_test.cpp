// Every transition of the floor state machine.
#include <gtest/gtest.h>

#include "floor_control.hpp"

using namespace ptt::server;
using ptt::protocol::RevokeReason;
using namespace std::chrono_literals;

namespace {
const TimePoint t0 = TimePoint{} + 1h;
}

TEST(FloorControl, RequestWhileFreeIsGrantedWithATalkId) {
  FloorControl f;
  auto r = f.request(1, t0);
  EXPECT_EQ(r.outcome, RequestOutcome::granted);
  ASSERT_TRUE(r.change.granted);
  EXPECT_EQ(r.change.granted->client, 1u);
  EXPECT_NE(r.change.granted->talk_id, 0u);
  ASSERT_TRUE(f.holder());
  EXPECT_EQ(f.holder()->client, 1u);
  EXPECT_TRUE(f.accepts_audio(1, r.change.granted->talk_id));
}

TEST(FloorControl, RequestWhileHeldIsBusy) {
  FloorControl f;
  f.request(1, t0);
  auto r = f.request(2, t0);
  EXPECT_EQ(r.outcome, RequestOutcome::busy);
  EXPECT_FALSE(r.change.floor_changed());
  EXPECT_EQ(f.holder()->client, 1u);
  EXPECT_TRUE(f.queue().empty());
}

TEST(FloorControl, DoubleRequestByTheHolderChangesNothing) {
  FloorControl f;
  const auto talk = f.request(1, t0).change.granted->talk_id;
  auto r = f.request(1, t0 + 1s);
  EXPECT_EQ(r.outcome, RequestOutcome::already_holding);
  EXPECT_FALSE(r.change.floor_changed());
  EXPECT_EQ(f.holder()->talk_id, talk);
  EXPECT_EQ(f.talk_started(), t0);
}

TEST(FloorControl, ReleaseByTheHolderFreesTheFloor) {
  FloorControl f;
  const auto talk = f.request(1, t0).change.granted->talk_id;
  auto r = f.release(1, talk, t0 + 1s);
  EXPECT_EQ(r.outcome, ReleaseOutcome::released);
  ASSERT_TRUE(r.change.ended);
  EXPECT_EQ(r.change.ended->talk_id, talk);
  EXPECT_FALSE(r.change.revoked);
  EXPECT_FALSE(f.holder());
  EXPECT_FALSE(f.accepts_audio(1, talk));
}

TEST(FloorControl, ReleaseByANonHolderIsRefused) {
  FloorControl f;
  const auto talk = f.request(1, t0).change.granted->talk_id;
  auto r = f.release(2, talk, t0);
  EXPECT_EQ(r.outcome, ReleaseOutcome::not_holder);
  EXPECT_FALSE(r.change.floor_changed());
  EXPECT_EQ(f.holder()->client, 1u);
  EXPECT_EQ(f.release(3, 0, t0).outcome, ReleaseOutcome::not_holder);  // not queued either
}

TEST(FloorControl, ReleaseOfAStaleTalkIsRefused) {
  FloorControl f;
  const auto first = f.request(1, t0).change.granted->talk_id;
  f.release(1, first, t0);
  const auto second = f.request(1, t0).change.granted->talk_id;
  EXPECT_NE(first, second);
  EXPECT_EQ(f.release(1, first, t0).outcome, ReleaseOutcome::stale_talk);
  EXPECT_EQ(f.holder()->talk_id, second);
}

// docs/PROTOCOL.md section 4: a release naming a talk that was issued and is over is stale_talk,
// whoever held it; the current talk held by someone else, or an id never issued, is not_holder.
TEST(FloorControl, StaleTalkIsATalkThatIsOverNotHolderAnyOtherTalk) {
  FloorControl f;
  const auto first = f.request(1, t0).change.granted->talk_id;
  f.release(1, first, t0);
  const auto second = f.request(2, t0).change.granted->talk_id;
  // Over: stale for its former holder and for anyone else.
  EXPECT_EQ(f.release(1, first, t0).outcome, ReleaseOutcome::stale_talk);
  EXPECT_EQ(f.release(3, first, t0).outcome, ReleaseOutcome::stale_talk);
  // The current talk, held by 2: not 1's to release.
  EXPECT_EQ(f.release(1, second, t0).outcome, ReleaseOutcome::not_holder);
  // Never issued: not a talk anyone holds, not one that is over.
  EXPECT_EQ(f.release(2, second + 1, t0).outcome, ReleaseOutcome::not_holder);
  EXPECT_EQ(f.release(1, 4000000000u, t0).outcome, ReleaseOutcome::not_holder);
  EXPECT_EQ(f.holder()->talk_id, second);
  // Once the floor is free, every talk issued so far is over.
  f.release(2, second, t0);
  EXPECT_EQ(f.release(2, second, t0).outcome, ReleaseOutcome::stale_talk);
  EXPECT_EQ(f.release(1, second + 1, t0).outcome, ReleaseOutcome::not_holder);
}

// Release 0 cancels what the request produced: the client let go before the grant reached it, so
// the talk it was granted ends as with a release of its id.
TEST(FloorControl, CancellingAfterTheGrantEndsTheTalk) {
  FloorControl f;
  const auto talk = f.request(1, t0).change.granted->talk_id;
  auto r = f.release(1, 0, t0 + 10ms);
  EXPECT_EQ(r.outcome, ReleaseOutcome::released);
  ASSERT_TRUE(r.change.ended);
  EXPECT_EQ(r.change.ended->talk_id, talk);
  EXPECT_FALSE(r.change.revoked);
  EXPECT_FALSE(f.holder());
  EXPECT_FALSE(f.accepts_audio(1, talk));
  EXPECT_EQ(f.release(1, 0, t0).outcome, ReleaseOutcome::not_holder);  // nothing left to cancel
}

TEST(FloorControl, TalkIdsIncrease) {
  FloorControl f;
  std::uint32_t last = 0;
  for (ClientId c = 1; c <= 5; ++c) {
    const auto talk = f.request(c, t0).change.granted->talk_id;
    EXPECT_GT(talk, last);
    last = talk;
    f.release(c, talk, t0);
  }
}

TEST(FloorControl, HolderDisconnectFreesTheFloor) {
  FloorControl f;
  const auto talk = f.request(1, t0).change.granted->talk_id;
  auto c = f.remove(1, t0);
  ASSERT_TRUE(c.ended);
  EXPECT_EQ(c.ended->talk_id, talk);
  EXPECT_FALSE(f.holder());
  EXPECT_FALSE(f.remove(1, t0).floor_changed());  // twice is harmless
}

TEST(FloorControl, NonHolderDisconnectChangesNothing) {
  FloorControl f;
  f.request(1, t0);
  EXPECT_FALSE(f.remove(2, t0).floor_changed());
  EXPECT_EQ(f.holder()->client, 1u);
}

TEST(FloorControl, MaxTalkTimeRevokes) {
  FloorConfig cfg;
  cfg.max_talk = 10s;
  FloorControl f(cfg);
  const auto talk = f.request(1, t0).change.granted->talk_id;
  f.heard_from(1, t0 + 9s);
  EXPECT_FALSE(f.tick(t0 + 9999ms).floor_changed());
  auto c = f.tick(t0 + 10s);
  ASSERT_TRUE(c.ended);
  EXPECT_EQ(c.ended->talk_id, talk);
  EXPECT_EQ(c.revoked, RevokeReason::max_time);
  EXPECT_FALSE(f.holder());
}

TEST(FloorControl, UnresponsiveHolderIsRevoked) {
  FloorConfig cfg;
  cfg.unresponsive = 3s;
  FloorControl f(cfg);
  f.request(1, t0);
  f.heard_from(1, t0 + 2s);
  EXPECT_FALSE(f.tick(t0 + 4s).floor_changed());  // heard 2 s ago
  f.heard_from(2, t0 + 4s);                       // someone else's message proves nothing
  auto c = f.tick(t0 + 5s);
  EXPECT_EQ(c.revoked, RevokeReason::unresponsive);
  EXPECT_FALSE(f.holder());
}

TEST(FloorControl, SilenceLimitRevokesOnlyWhenEnabled) {
  FloorConfig cfg;
  cfg.silence = 5s;
  FloorControl f(cfg);
  f.request(1, t0);
  for (int s = 1; s <= 4; ++s) f.heard_from(1, t0 + std::chrono::seconds(s));  // alive but not speaking
  EXPECT_EQ(f.tick(t0 + 5s).revoked, RevokeReason::silence);

  FloorControl off;  // default: no silence limit
  off.request(1, t0);
  for (int s = 1; s <= 8; ++s) off.heard_from(1, t0 + std::chrono::seconds(s));
  EXPECT_FALSE(off.tick(t0 + 8s).floor_changed());
}

TEST(FloorControl, AdminRevoke) {
  FloorControl f;
  f.request(1, t0);
  EXPECT_EQ(f.revoke(RevokeReason::admin, t0).revoked, RevokeReason::admin);
  EXPECT_FALSE(f.holder());
  EXPECT_FALSE(f.revoke(RevokeReason::admin, t0).floor_changed());  // nothing to revoke
}

TEST(FloorControl, RequestAfterRevokeIsGranted) {
  FloorConfig cfg;
  cfg.max_talk = 1s;
  FloorControl f(cfg);
  const auto first = f.request(1, t0).change.granted->talk_id;
  f.tick(t0 + 1s);
  auto r = f.request(1, t0 + 2s);
  EXPECT_EQ(r.outcome, RequestOutcome::granted);
  EXPECT_NE(r.change.granted->talk_id, first);
  EXPECT_FALSE(f.accepts_audio(1, first));
}

TEST(FloorControl, AudioOnlyFromTheHolderForTheCurrentTalk) {
  FloorControl f;
  const auto talk = f.request(1, t0).change.granted->talk_id;
  EXPECT_TRUE(f.accepts_audio(1, talk));
  EXPECT_FALSE(f.accepts_audio(2, talk));
  EXPECT_FALSE(f.accepts_audio(1, talk + 1));
  EXPECT_FALSE(f.accepts_audio(1, 0));
}

TEST(FloorControlQueue, DeniedClientsWaitInOrderAndAreGrantedAutomatically) {
  FloorConfig cfg;
  cfg.mode = FloorMode::queue;
  FloorControl f(cfg);
  const auto talk = f.request(1, t0).change.granted->talk_id;
  auto r2 = f.request(2, t0);
  auto r3 = f.request(3, t0);
  EXPECT_EQ(r2.outcome, RequestOutcome::queued);
  EXPECT_EQ(r2.position, 1u);
  EXPECT_EQ(r3.position, 2u);
  EXPECT_TRUE(r3.change.queue_changed);
  // Asking again keeps the place.
  auto again = f.request(2, t0);
  EXPECT_EQ(again.position, 1u);
  EXPECT_FALSE(again.change.queue_changed);

  auto rel = f.release(1, talk, t0 + 1s);
  ASSERT_TRUE(rel.change.granted);
  EXPECT_EQ(rel.change.granted->client, 2u);
  EXPECT_EQ(f.queue_position(3), 1u);
  // The next holder's disconnect passes the floor on to 3.
  auto gone = f.remove(2, t0 + 2s);
  ASSERT_TRUE(gone.granted);
  EXPECT_EQ(gone.granted->client, 3u);
  EXPECT_TRUE(f.queue().empty());
}

TEST(FloorControlQueue, LeavingTheQueueAndDisconnectingWhileQueued) {
  FloorConfig cfg;
  cfg.mode = FloorMode::queue;
  FloorControl f(cfg);
  const auto talk = f.request(1, t0).change.granted->talk_id;
  f.request(2, t0);
  f.request(3, t0);
  f.request(4, t0);
  auto left = f.release(2, 0, t0);
  EXPECT_EQ(left.outcome, ReleaseOutcome::left_queue);
  EXPECT_TRUE(left.change.queue_changed);
  EXPECT_FALSE(left.change.floor_changed());
  EXPECT_TRUE(f.remove(3, t0).queue_changed);
  EXPECT_EQ(f.queue_position(4), 1u);
  auto rel = f.release(1, talk, t0);
  EXPECT_EQ(rel.change.granted->client, 4u);
}

TEST(FloorControlQueue, RevokeGrantsTheNextInLine) {
  FloorConfig cfg;
  cfg.mode = FloorMode::queue;
  cfg.max_talk = 5s;
  FloorControl f(cfg);
  f.request(1, t0);
  f.request(2, t0 + 1s);
  auto c = f.tick(t0 + 5s);
  EXPECT_EQ(c.revoked, RevokeReason::max_time);
  ASSERT_TRUE(c.granted);
  EXPECT_EQ(c.granted->client, 2u);
  EXPECT_EQ(f.talk_started(), t0 + 5s);  // the new talk gets its own full time
  f.heard_from(2, t0 + 7s);
  EXPECT_FALSE(f.tick(t0 + 9s).floor_changed());
  EXPECT_EQ(f.tick(t0 + 10s).revoked, RevokeReason::max_time);
}

TEST(FloorControlQueue, CancellingAfterTheGrantPassesTheFloorToTheNextInLine) {
  FloorConfig cfg;
  cfg.mode = FloorMode::queue;
  FloorControl f(cfg);
  const auto first = f.request(1, t0).change.granted->talk_id;
  f.request(2, t0);
  f.request(3, t0);
  // 2 is granted when 1 lets go, but 2 has let go too: its cancel ends its talk, 3 is next.
  const auto second = f.release(1, first, t0).change.granted->talk_id;
  auto r = f.release(2, 0, t0 + 5ms);
  EXPECT_EQ(r.outcome, ReleaseOutcome::released);
  ASSERT_TRUE(r.change.ended);
  EXPECT_EQ(r.change.ended->talk_id, second);
  ASSERT_TRUE(r.change.granted);
  EXPECT_EQ(r.change.granted->client, 3u);
  EXPECT_TRUE(r.change.queue_changed);
  EXPECT_EQ(f.holder()->client, 3u);
  EXPECT_TRUE(f.queue().empty());
}

TEST(FloorControlModerated, EveryRequestWaitsAndOnlyTheProfessorGrants) {
  FloorConfig cfg;
  cfg.mode = FloorMode::moderated;
  FloorControl f(cfg);
  // Even on a free floor a request waits in line.
  auto r1 = f.request(1, t0);
  EXPECT_EQ(r1.outcome, RequestOutcome::queued);
  EXPECT_EQ(r1.position, 1u);
  EXPECT_FALSE(f.holder());
  EXPECT_EQ(f.request(2, t0).position, 2u);
  // The professor picks the second in line; the first keeps its place.
  EXPECT_FALSE(f.grant_queued(3, t0).floor_changed());  // not in line
  auto g = f.grant_queued(2, t0);
  ASSERT_TRUE(g.granted);
  EXPECT_EQ(g.granted->client, 2u);
  EXPECT_TRUE(g.queue_changed);
  EXPECT_EQ(f.queue_position(1), 1u);
  EXPECT_FALSE(f.grant_queued(1, t0).floor_changed());  // the floor is taken
  // The talk ends and the floor stays free: nobody is granted without the professor.
  auto rel = f.release(2, g.granted->talk_id, t0 + 1s);
  EXPECT_TRUE(rel.change.ended);
  EXPECT_FALSE(rel.change.granted);
  EXPECT_FALSE(f.holder());
  EXPECT_EQ(f.queue_position(1), 1u);
  // A revoke does not grant either.
  f.grant_queued(1, t0 + 2s);
  auto rev = f.revoke(RevokeReason::admin, t0 + 3s);
  EXPECT_TRUE(rev.ended);
  EXPECT_FALSE(rev.granted);
}

TEST(FloorControlModerated, DequeueTakesOneOutOfLineAndSaysWho) {
  FloorConfig cfg;
  cfg.mode = FloorMode::moderated;
  FloorControl f(cfg);
  f.request(1, t0);
  f.request(2, t0);
  auto d = f.dequeue(1, t0);
  EXPECT_TRUE(d.queue_changed);
  EXPECT_EQ(d.left_queue, std::vector<ClientId>{1});
  EXPECT_FALSE(d.floor_changed());
  EXPECT_EQ(f.queue_position(2), 1u);
  EXPECT_FALSE(f.dequeue(1, t0).queue_changed);  // not in line any more
}

TEST(FloorControlModerated, AutoApproveGrantsTheFirstInLineAfterItsCountdown) {
  FloorConfig cfg;
  cfg.mode = FloorMode::moderated;
  cfg.auto_approve = 5s;
  FloorControl f(cfg);
  EXPECT_FALSE(f.auto_grant());
  f.request(1, t0);
  ASSERT_TRUE(f.auto_grant());
  EXPECT_EQ(f.auto_grant()->client, 1u);
  EXPECT_EQ(f.auto_grant()->at, t0 + 5s);
  f.request(2, t0 + 1s);  // second in line: the countdown stays the first's
  EXPECT_EQ(f.auto_grant()->at, t0 + 5s);
  EXPECT_FALSE(f.tick(t0 + 4900ms).floor_changed());
  auto g = f.tick(t0 + 5s);
  ASSERT_TRUE(g.granted);
  EXPECT_EQ(g.granted->client, 1u);
  EXPECT_TRUE(g.auto_approved);
  EXPECT_TRUE(g.queue_changed);
  // While someone talks no countdown runs; it starts for the next when the floor frees.
  EXPECT_FALSE(f.auto_grant());
  auto rel = f.release(1, g.granted->talk_id, t0 + 8s);
  EXPECT_FALSE(rel.change.granted);
  ASSERT_TRUE(f.auto_grant());
  EXPECT_EQ(f.auto_grant()->client, 2u);
  EXPECT_EQ(f.auto_grant()->at, t0 + 13s);
  // The professor acts first: the countdown is theirs to overrule.
  f.request(3, t0 + 9s);
  EXPECT_TRUE(f.dequeue(2, t0 + 10s).queue_changed);
  ASSERT_TRUE(f.auto_grant());
  EXPECT_EQ(f.auto_grant()->client, 3u);
  EXPECT_EQ(f.auto_grant()->at, t0 + 15s);  // a new first starts afresh
  EXPECT_TRUE(f.grant_queued(3, t0 + 11s).granted);
  EXPECT_FALSE(f.auto_grant());
  EXPECT_FALSE(f.tick(t0 + 13s).floor_changed());  // 3 holds the floor: no countdown grants
}

TEST(FloorControlModerated, AutoApproveStopsOutsideModeratedModeAndWhenTurnedOff) {
  FloorConfig cfg;
  cfg.mode = FloorMode::moderated;
  FloorControl f(cfg);
  f.request(1, t0);
  EXPECT_FALSE(f.auto_grant());  // off by default: only the professor grants
  f.set_auto_approve(3s, t0 + 1s);
  ASSERT_TRUE(f.auto_grant());
  EXPECT_EQ(f.auto_grant()->at, t0 + 4s);
  f.set_auto_approve(10s, t0 + 2s);  // a new delay restarts the countdown
  EXPECT_EQ(f.auto_grant()->at, t0 + 12s);
  f.set_auto_approve(0s, t0 + 3s);
  EXPECT_FALSE(f.auto_grant());
  EXPECT_FALSE(f.tick(t0 + 20s).floor_changed());
  // In queue mode the line moves by itself: no countdown, whatever the delay.
  f.set_auto_approve(3s, t0 + 21s);
  EXPECT_TRUE(f.auto_grant());
  f.set_mode(FloorMode::queue, t0 + 22s);  // grants the first at once
  EXPECT_TRUE(f.holder());
  f.request(2, t0 + 22s);
  f.revoke(RevokeReason::admin, t0 + 23s);  // queue mode: 2 is granted at once
  EXPECT_EQ(f.holder()->client, 2u);
  EXPECT_FALSE(f.auto_grant());
}

TEST(FloorControlModes, ChangingModeLiveKeepsOneHolderAndAnHonestLine) {
  FloorControl f;
  EXPECT_EQ(f.mode(), FloorMode::first_come);
  EXPECT_FALSE(f.set_mode(FloorMode::first_come, t0).queue_changed);
  // First come to moderated: nothing moves; requests now wait.
  f.request(1, t0);  // granted before the change
  EXPECT_FALSE(f.set_mode(FloorMode::moderated, t0).floor_changed());
  EXPECT_EQ(f.holder()->client, 1u);
  f.request(2, t0);
  f.request(3, t0);
  f.revoke(RevokeReason::admin, t0);
  EXPECT_FALSE(f.holder());
  // Moderated to queue with a free floor: the first in line gets it, the rest keep waiting.
  auto q = f.set_mode(FloorMode::queue, t0 + 1s);
  ASSERT_TRUE(q.granted);
  EXPECT_EQ(q.granted->client, 2u);
  EXPECT_TRUE(q.left_queue.empty());
  EXPECT_EQ(f.queue_position(3), 1u);
  f.request(4, t0 + 1s);
  // Queue to first come: the line is gone, its members are named, the holder stays.
  auto fc = f.set_mode(FloorMode::first_come, t0 + 2s);
  EXPECT_FALSE(fc.floor_changed());
  EXPECT_EQ(fc.left_queue, (std::vector<ClientId>{3, 4}));
  EXPECT_TRUE(f.queue().empty());
  EXPECT_EQ(f.holder()->client, 2u);
  // Moderated to first come with a free floor: the first in line came first and gets it.
  f.set_mode(FloorMode::moderated, t0 + 3s);
  f.release(2, f.holder()->talk_id, t0 + 3s);
  f.request(5, t0 + 3s);
  f.request(6, t0 + 3s);
  auto back = f.set_mode(FloorMode::first_come, t0 + 4s);
  ASSERT_TRUE(back.granted);
  EXPECT_EQ(back.granted->client, 5u);
  EXPECT_EQ(back.left_queue, std::vector<ClientId>{6});
}

TEST(FloorControlModes, NamesRoundTrip) {
  for (auto m : {FloorMode::first_come, FloorMode::queue, FloorMode::moderated})
    EXPECT_EQ(floor_mode_from_string(to_string(m)), m);
  EXPECT_FALSE(floor_mode_from_string("Queue"));
  EXPECT_FALSE(floor_mode_from_string(""));
}
