// The student's side of the floor rules (docs/PROTOCOL.md section 5), in one place: the page's
// module runs it (compiled to wasm) and the tests run it natively. The page feeds it what happens
// (the button, each server message, the socket opening and closing, the capture's silence) and
// applies what comes out: messages to send, commands for the capture worklet, and the view the UI
// shows. The page keeps no floor state of its own.
//
// Rules it owns:
// - A press asks for the floor and starts the capture's pre-roll; the grant makes the pre-roll the
//   start of the talk. Busy or rate-limited drops the pre-roll; queued keeps it (its newest 0.8 s)
//   so a student who holds the button in line goes live, and is heard, the moment the floor comes.
// - Letting go while live releases the talk by its id; while asking or queued it sends `talk` 0,
//   which also hands back a grant already on its way, so a grant that arrives after the button was
//   let go is ignored (the server has ended that talk).
// - Still holding when the floor is freed (after a busy answer), or when the connection comes back:
//   the session asks again, as the student still wants to talk.
// - With a line (queue or moderated mode) the press raises a hand: letting go keeps the place in
//   line (the microphone stops), and a second press lowers the hand. When the floor comes to a
//   raised hand the student has kYourTurnMs to press and speak; after that the floor is handed back.
// - Silence is the server's rule (`--silence-release`, revoke reason `silence`); the session only
//   shows the "we can't hear you" hint from the capture's voice activity detector.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ptt/protocol.hpp"

namespace ptt {

class ClientSession {
 public:
  // What the button and the status line show.
  enum class State : std::uint8_t {
    unreachable, // no connection (yet, or lost): the page says it retries
    connecting,  // connected, `join` sent, no `welcome` yet
    ready,       // joined; not holding the button, or holding it after a refusal was let go
    requesting,  // holding; `floor_request` sent, no answer yet
    live,        // holding the floor: the capture sends
    busy,        // holding, refused: someone else talks (or too many presses)
    queued,      // in line (queue or moderated mode): holding, or not (a raised hand)
    your_turn,   // granted to a raised hand: press within kYourTurnMs to speak
    revoked,     // holding, but the server took the floor back
    rejected,    // the server refused the join (name, room code, guesses): the form explains
  };
  // Why the state is what it is, when the UI should say more than the state.
  enum class Reason : std::uint8_t {
    none,
    busy,            // someone else holds the floor (holder())
    rate_limited,    // too many presses
    max_time,        // revoked: the talk reached max_talk_ms
    unresponsive,    // revoked: pings went unanswered
    silence,         // revoked: no speech for the server's silence limit
    admin,           // revoked: the professor took the floor back
    bad_name,        // rejected
    bad_room_code,   // rejected
    guess_limit,     // rejected: too many wrong room codes from this network
    removed,         // rejected: the professor removed this student (for a while)
    server_full,     // unreachable: the room is full
    connection_lost, // unreachable
    turn_missed,     // ready: the floor came to a raised hand and was not taken up in time
  };
  // hold_gain: the server hears its speakers in this talk (a `feedback` message): the capture's
  // gain control stops raising its gain.
  enum class CaptureCommand : std::uint8_t { press, grant, release, hold_gain };
  struct Capture {
    CaptureCommand command;
    std::uint32_t talk_id = 0;  // for grant
  };
  // After this long without speech while live the UI asks the student to speak up.
  static constexpr std::uint32_t kSilenceHintMs = 4000;
  // A press refused for the press rate (2 a second at the server) is retried this much later.
  static constexpr double kRateRetryMs = 1000;
  // The floor granted to a raised hand waits this long for the press.
  static constexpr double kYourTurnMs = 5000;

  // The socket opened: returns the `join` to send (the name is normalised by the shared rules), or
  // an empty string if the name breaks them (state rejected, reason bad_name).
  std::string open(std::string_view name, std::string_view room_code);
  // The socket closed (or failed): the capture stops; the press is remembered for the next welcome.
  void closed();

  void press(double now_ms);
  void release(double now_ms);
  // One text message from the server; now_us on the page's ping clock (for pongs). Returns false
  // (and changes nothing) if it is not a valid server message.
  bool receive(std::string_view text, double now_ms, std::uint64_t now_us);
  // The capture's meter while the page runs: level 0..1 and how long no speech was heard.
  void meter(float level, std::uint32_t silence_ms, double now_ms);
  // Time passing: a press refused as rate-limited, still held, asks again once wake_at_ms() is due.
  void tick(double now_ms);
  // When the session wants a tick (0: no need).
  double wake_at_ms() const noexcept {
    const double turn = turn_ends_at_ms();
    return retry_at_ms_ == 0 ? turn : turn == 0 ? retry_at_ms_ : std::min(retry_at_ms_, turn);
  }

  // ---- outputs, taken by the page after each input ----
  std::vector<std::string> take_outgoing();
  std::vector<Capture> take_capture();
  // True once after the view changed (the page redraws); tone() once after a grant.
  bool take_view_changed();
  bool take_tone();

  // ---- the view ----
  State state() const noexcept { return state_; }
  Reason reason() const noexcept { return reason_; }
  bool pressed() const noexcept { return pressed_; }
  // In line without holding: the hand stays up until the floor comes or a second press.
  bool hand_raised() const noexcept { return queue_mode_ && !pressed_ && (state_ == State::queued || state_ == State::requesting); }
  // your_turn: when the floor goes back unless the student presses.
  double turn_ends_at_ms() const noexcept { return state_ == State::your_turn ? turn_ends_at_ms_ : 0; }
  bool on_air() const noexcept { return state_ == State::live; }  // the capture sends
  const std::string& holder() const noexcept { return holder_; }      // busy / queued: who talks
  std::uint32_t position() const noexcept { return position_; }       // queued: 1-based place
  // Queued first in line with the professor's auto-approve on: when the floor comes (0: no countdown).
  double grant_at_ms() const noexcept { return state_ == State::queued ? grant_at_ms_ : 0; }
  const std::string& my_name() const noexcept { return my_name_; }    // as the server uses it
  bool queue_mode() const noexcept { return queue_mode_; }
  std::uint32_t max_talk_ms() const noexcept { return max_talk_ms_; }
  double live_since_ms() const noexcept { return live_since_ms_; }    // live: when the grant came
  // The floor as everyone sees it.
  bool floor_taken() const noexcept { return floor_.taken; }
  const std::string& floor_holder() const noexcept { return floor_.holder; }
  bool floor_mine() const noexcept { return floor_.taken && floor_.holder_id == my_id_ && my_id_ != 0; }
  std::uint32_t queue_length() const noexcept { return floor_.queue_length; }
  // While live: the meter's level, and whether the student should be told to speak up.
  float level() const noexcept { return state_ == State::live ? level_ : 0.0f; }
  bool silence_hint() const noexcept { return state_ == State::live && silence_ms_ >= kSilenceHintMs; }
  // While live: the server hears its own speakers in this microphone (a `feedback` message for this
  // talk); the page asks the student to step back or lower the phone.
  bool feedback_hint() const noexcept { return state_ == State::live && feedback_talk_ == talk_id_ && talk_id_ != 0; }

  static std::string_view to_string(State s) noexcept;
  static std::string_view to_string(Reason r) noexcept;

 private:
  void on(const protocol::Welcome& m, double now_ms);
  void on(const protocol::FloorState& m, double now_ms);
  void on(const protocol::FloorGranted& m, double now_ms);
  void on(const protocol::FloorDenied& m, double now_ms);
  void on(const protocol::FloorRevoked& m, double now_ms);
  void on(const protocol::Error& m, double now_ms);
  void on(const protocol::Feedback& m, double now_ms);
  void request();                                       // ask for the floor, start the pre-roll
  void stop_capture();
  void set(State s, Reason r = Reason::none);
  void send(const protocol::ControlMessage& m);

  State state_ = State::unreachable;
  Reason reason_ = Reason::none;
  bool pressed_ = false;
  bool capturing_ = false;      // the capture was told press (or grant) and not release since
  std::uint32_t talk_id_ = 0;   // live: the talk to release
  std::uint32_t feedback_talk_ = 0;  // the talk a `feedback` message was about
  std::uint32_t my_id_ = 0;
  std::string my_name_;
  bool queue_mode_ = false;
  std::uint32_t max_talk_ms_ = 0;
  double live_since_ms_ = 0;
  std::string holder_;
  std::uint32_t position_ = 0;
  double grant_at_ms_ = 0;
  protocol::FloorState floor_;
  float level_ = 0;
  std::uint32_t silence_ms_ = 0;  // live: without speech since the later of the grant and the last speech
  double retry_at_ms_ = 0;
  double turn_ends_at_ms_ = 0;
  bool swallow_release_ = false;  // the press lowered a hand: its release does nothing more

  std::vector<std::string> outgoing_;
  std::vector<Capture> capture_;
  bool view_changed_ = true;
  bool tone_ = false;
};

}  // namespace ptt
