// Floor control: who may speak, as a plain state machine with no I/O, no clock of its own and no
// Beast, so every transition is unit-tested directly. The room calls it on its strand and turns each
// FloorChange into messages. Three modes, changeable live by the professor: first come, first served
// (a request while the floor is taken is refused); queue (it waits in line, and the next in line
// gets the floor when it frees); moderated (every request waits in line, and only the professor
// gives the floor, to whoever in line they pick).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

#include "ptt/protocol.hpp"
#include "ptt/server/vocabulary.hpp"

namespace ptt::server {

enum class FloorMode : std::uint8_t { first_come, queue, moderated };
std::string_view to_string(FloorMode mode) noexcept;  // "first_come", "queue", "moderated"
std::optional<FloorMode> floor_mode_from_string(std::string_view s) noexcept;

struct FloorConfig {
  FloorMode mode = FloorMode::first_come;          // at start; the professor may change it live
  std::chrono::milliseconds max_talk{120'000};     // longest talk
  std::chrono::milliseconds unresponsive{3'000};   // holder silent (no message, no pong) this long: revoked
  std::chrono::milliseconds silence{0};            // holder sends no speech this long: revoked (0 = off)
  // Moderated mode's auto-approve: on a free floor the first in line is granted after this long
  // unless the professor acts first (0: off; only the professor grants).
  std::chrono::milliseconds auto_approve{0};
};

// An auto-approve countdown: `client`, first in line, gets the free floor at `at`.
struct AutoGrant {
  ClientId client = 0;
  TimePoint at{};
};

struct Talk {
  ClientId client = 0;
  std::uint32_t talk_id = 0;
};

// What one operation changed.
struct FloorChange {
  std::optional<Talk> ended;    // a talk ended (release, revoke, holder gone)
  std::optional<protocol::RevokeReason> revoked;  // set when the server ended it
  std::optional<Talk> granted;  // a talk began (a request, or the next in line)
  bool queue_changed = false;
  // Taken out of line without being granted (the professor's dequeue, a change to first come).
  std::vector<ClientId> left_queue;
  bool auto_approved = false;  // `granted` came from the auto-approve countdown
  bool floor_changed() const noexcept { return ended.has_value() || granted.has_value(); }
};

enum class RequestOutcome { granted, already_holding, busy, queued };
struct RequestResult {
  RequestOutcome outcome = RequestOutcome::busy;
  std::uint32_t position = 0;  // queued: 1-based place in line
  FloorChange change;
};

enum class ReleaseOutcome { released, left_queue, not_holder, stale_talk };
struct ReleaseResult {
  ReleaseOutcome outcome = ReleaseOutcome::not_holder;
  FloorChange change;
};

class FloorControl {
 public:
  explicit FloorControl(const FloorConfig& config = {})
      : config_(config), mode_(config.mode), auto_approve_(config.auto_approve) {}

  RequestResult request(ClientId client, TimePoint now);
  // The client lets go (docs/PROTOCOL.md section 5, rule 6). talk_id 0 cancels whatever its request
  // produced: the floor when it holds it (granted, though it may not have seen the grant yet: the
  // talk ends as with a release of its id), else its place in the queue. Refusals: `stale_talk`
  // for a talk that was issued and is over (whoever held it), `not_holder` for the current talk
  // held by someone else, a talk id never issued, or 0 with nothing to cancel.
  ReleaseResult release(ClientId client, std::uint32_t talk_id, TimePoint now);
  // The client disconnected: frees the floor if it held it, removes it from the queue.
  FloorChange remove(ClientId client, TimePoint now);
  // Any message from the client proves it alive; speech=true also resets the silence timer.
  void heard_from(ClientId client, TimePoint now, bool speech = false);
  // Enforces the maximum talk time, the holder's liveness and the silence limit, and grants when
  // an auto-approve countdown ends.
  FloorChange tick(TimePoint now);
  // The professor takes the floor back.
  FloorChange revoke(protocol::RevokeReason reason, TimePoint now);
  // The professor gives the free floor to `client`, who is in line (in any mode; moderated mode
  // has no other way to the floor). Changes nothing while someone holds it or if not in line.
  FloorChange grant_queued(ClientId client, TimePoint now);
  // The professor takes `client` out of line.
  FloorChange dequeue(ClientId client, TimePoint now);
  // A new mode, at once. Into queue mode, a free floor goes to the first in line; into first come,
  // too, and everyone else in line leaves it (first come has no line).
  FloorChange set_mode(FloorMode mode, TimePoint now);
  FloorMode mode() const noexcept { return mode_; }
  // Moderated mode's auto-approve delay (0: off). A new delay restarts a running countdown.
  void set_auto_approve(std::chrono::milliseconds delay, TimePoint now);
  std::chrono::milliseconds auto_approve() const noexcept { return auto_approve_; }
  // The countdown running now: moderated mode, auto-approve on, the floor free, someone in line.
  const std::optional<AutoGrant>& auto_grant() const noexcept { return auto_grant_; }

  bool accepts_audio(ClientId client, std::uint32_t talk_id) const noexcept {
    return holder_ && holder_->client == client && holder_->talk_id == talk_id;
  }
  const std::optional<Talk>& holder() const noexcept { return holder_; }
  const std::deque<ClientId>& queue() const noexcept { return queue_; }
  std::uint32_t queue_position(ClientId client) const noexcept;  // 0 when not queued
  TimePoint talk_started() const noexcept { return started_; }
  const FloorConfig& config() const noexcept { return config_; }

 private:
  // Ends the current talk and, in queue mode, grants the next in line.
  FloorChange end_talk(std::optional<protocol::RevokeReason> reason, TimePoint now);
  Talk grant(ClientId client, TimePoint now);
  // Was this talk id handed out (now or before)?
  bool issued(std::uint32_t talk_id) const noexcept {
    return talk_id != 0 && (ids_wrapped_ || talk_id < next_talk_id_);
  }

  // The free floor to the first in line.
  FloorChange grant_first(TimePoint now);
  // Starts, keeps or stops the auto-approve countdown to fit the state; each public operation that
  // can change the mode, the holder or the line ends with it (through a RearmOnExit).
  void rearm(TimePoint now);
  struct RearmOnExit {
    FloorControl& floor;
    TimePoint now;
    ~RearmOnExit() { floor.rearm(now); }
  };

  FloorConfig config_;
  FloorMode mode_;
  std::optional<Talk> holder_;
  std::deque<ClientId> queue_;
  std::uint32_t next_talk_id_ = 1;
  bool ids_wrapped_ = false;  // every id has been issued once (after 2^32 - 1 talks)
  TimePoint started_{}, last_heard_{}, last_speech_{};
  std::chrono::milliseconds auto_approve_{0};
  std::optional<AutoGrant> auto_grant_;
};

}  // namespace ptt::server
