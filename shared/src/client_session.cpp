#include "ptt/client_session.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <variant>

namespace ptt {

namespace proto = protocol;

std::string ClientSession::open(std::string_view name, std::string_view room_code) {
  swallow_release_ = false;
  capture_.clear();
  outgoing_.clear();
  talk_id_ = 0;
  my_id_ = 0;
  floor_ = {};
  auto normalised = proto::normalise_display_name(name);
  if (!normalised) {
    set(State::rejected, Reason::bad_name);
    return {};
  }
  if (room_code.size() > proto::kMaxRoomCodeBytes) {
    set(State::rejected, Reason::bad_room_code);
    return {};
  }
  my_name_ = *normalised;
  set(State::connecting);
  return proto::encode_control(proto::Join{*normalised, std::string(room_code)});
}

void ClientSession::closed() {
  stop_capture();
  talk_id_ = 0;
  my_id_ = 0;
  floor_ = {};
  holder_.clear();
  position_ = 0;
  grant_at_ms_ = 0;
  // A refused join stays refused: the form asks for a new name or code, not the retry timer.
  if (state_ == State::rejected) return;
  set(State::unreachable, reason_ == Reason::server_full ? Reason::server_full : Reason::connection_lost);
}

void ClientSession::press(double now_ms) {
  if (pressed_) return;
  if (hand_raised()) {  // a second press lowers the hand; 0 also hands back a grant on its way
    pressed_ = true;
    swallow_release_ = true;
    send(proto::FloorRelease{0});
    stop_capture();
    set(State::ready);
    return;
  }
  pressed_ = true;
  if (state_ == State::your_turn) {  // the floor is already this student's: live at once
    capture_.push_back({CaptureCommand::press, 0});
    capture_.push_back({CaptureCommand::grant, talk_id_});
    capturing_ = true;
    live_since_ms_ = now_ms;
    set(State::live);
    return;
  }
  // Offline or before the welcome the press is remembered: the welcome asks for the floor.
  if (state_ == State::ready || state_ == State::busy || state_ == State::revoked) request();
}

void ClientSession::release(double) {
  if (!pressed_) return;
  pressed_ = false;
  if (std::exchange(swallow_release_, false)) return;
  if (queue_mode_ && (state_ == State::requesting || state_ == State::queued)) {
    // The hand stays up; the microphone stops until the floor comes and the student presses.
    stop_capture();
    view_changed_ = true;
    return;
  }
  switch (state_) {
    case State::live:
      send(proto::FloorRelease{talk_id_});
      talk_id_ = 0;
      stop_capture();
      set(State::ready);
      break;
    case State::requesting:
    case State::queued:
      // 0 cancels what the request produced, a grant on its way included (rule 6).
      send(proto::FloorRelease{0});
      stop_capture();
      set(State::ready);
      break;
    case State::busy:
    case State::revoked:
      set(State::ready);
      break;
    default:
      break;
  }
}

bool ClientSession::receive(std::string_view text, double now_ms, std::uint64_t now_us) {
  proto::ControlMessage msg;
  if (proto::decode_control(text, msg) != proto::ErrorCode::ok) return false;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, proto::Ping>) {
          send(proto::Pong{m.t0, now_us, now_us});
        } else if constexpr (std::is_same_v<T, proto::Welcome> || std::is_same_v<T, proto::FloorState> ||
                             std::is_same_v<T, proto::FloorGranted> || std::is_same_v<T, proto::FloorDenied> ||
                             std::is_same_v<T, proto::FloorRevoked> || std::is_same_v<T, proto::Error> ||
                             std::is_same_v<T, proto::Feedback>) {
          on(m, now_ms);
        }
        // Pongs (the page sends no pings) and client messages are ignored.
      },
      msg);
  return true;
}

void ClientSession::on(const proto::Feedback& m, double) {
  if (feedback_talk_ == m.talk_id) return;
  feedback_talk_ = m.talk_id;
  view_changed_ = true;
  if (state_ == State::live && m.talk_id == talk_id_) capture_.push_back({CaptureCommand::hold_gain, m.talk_id});
}

void ClientSession::on(const proto::Welcome& m, double) {
  my_id_ = m.client_id;
  my_name_ = m.name;
  queue_mode_ = m.queue_mode || m.floor.queue_mode;
  max_talk_ms_ = m.max_talk_ms;
  floor_ = m.floor;
  set(State::ready);
  if (pressed_) request();  // held through a reconnect: still wants the floor
}

void ClientSession::on(const proto::FloorState& m, double) {
  if (state_ == State::unreachable || state_ == State::connecting || state_ == State::rejected) return;
  const bool freed = floor_.taken && !m.taken;
  floor_ = m;
  queue_mode_ = m.queue_mode;
  view_changed_ = true;
  if (state_ == State::busy && !m.taken) {
    request();  // still holding, and the floor is free now: ask again
  } else if (state_ == State::busy && m.taken && holder_ != m.holder) {
    holder_ = m.holder;  // the floor changed hands while this student waits
  } else if (freed && state_ == State::revoked && !pressed_) {
    set(State::ready);
  }
}

void ClientSession::on(const proto::FloorGranted& m, double now_ms) {
  if ((state_ == State::live || state_ == State::your_turn) && m.talk_id == talk_id_) return;  // a repeated answer
  if (hand_raised()) {  // the floor came to a raised hand: the student is told, and has a moment to press
    talk_id_ = m.talk_id;
    if (m.max_talk_ms) max_talk_ms_ = m.max_talk_ms;
    holder_.clear();
    position_ = 0;
    grant_at_ms_ = 0;
    turn_ends_at_ms_ = now_ms + kYourTurnMs;
    tone_ = true;
    set(State::your_turn);
    return;
  }
  if (!pressed_ || (state_ != State::requesting && state_ != State::queued)) {
    // Let go before it came: the release with talk 0 already ended this talk at the server.
    return;
  }
  talk_id_ = m.talk_id;
  if (m.max_talk_ms) max_talk_ms_ = m.max_talk_ms;
  live_since_ms_ = now_ms;
  holder_.clear();
  position_ = 0;
  grant_at_ms_ = 0;
  level_ = 0;
  silence_ms_ = 0;
  capture_.push_back({CaptureCommand::grant, m.talk_id});
  capturing_ = true;
  tone_ = true;
  set(State::live);
}

void ClientSession::on(const proto::FloorDenied& m, double now_ms) {
  // The professor may change the mode after the welcome: a queued answer proves a line, a busy one
  // that there is none.
  if (m.reason == proto::DenyReason::queued) queue_mode_ = true;
  if (m.reason == proto::DenyReason::busy) queue_mode_ = false;
  if (state_ != State::requesting && state_ != State::queued) return;  // let go already
  if (!pressed_ && !hand_raised()) return;
  if (!pressed_ && m.reason != proto::DenyReason::queued) {  // a raised hand refused: it comes down
    holder_ = m.holder;
    position_ = 0;
    grant_at_ms_ = 0;
    set(State::ready, m.reason == proto::DenyReason::busy ? Reason::busy : Reason::rate_limited);
    return;
  }
  switch (m.reason) {
    case proto::DenyReason::queued:
      // In line: the pre-roll keeps running, so the grant starts with what was just said.
      holder_ = m.holder;
      position_ = m.position;
      grant_at_ms_ = m.grant_in_ms ? now_ms + m.grant_in_ms : 0;
      set(State::queued);
      break;
    case proto::DenyReason::busy:
      stop_capture();
      holder_ = m.holder;
      position_ = 0;
      grant_at_ms_ = 0;
      set(State::busy, Reason::busy);
      break;
    case proto::DenyReason::rate_limited:
    case proto::DenyReason::not_joined:
      stop_capture();
      holder_.clear();
      position_ = 0;
      grant_at_ms_ = 0;
      retry_at_ms_ = now_ms + kRateRetryMs;  // still held then: ask again
      set(State::busy, Reason::rate_limited);
      break;
  }
}

void ClientSession::on(const proto::FloorRevoked& m, double) {
  if ((state_ != State::live && state_ != State::your_turn) || m.talk_id != talk_id_) return;  // not this student's talk
  talk_id_ = 0;
  stop_capture();
  Reason r = Reason::admin;
  switch (m.reason) {
    case proto::RevokeReason::max_time: r = Reason::max_time; break;
    case proto::RevokeReason::unresponsive: r = Reason::unresponsive; break;
    case proto::RevokeReason::silence: r = Reason::silence; break;
    case proto::RevokeReason::admin: r = Reason::admin; break;
  }
  // Still holding: the button says "Stopped" until it is let go; the reason stays shown.
  set(pressed_ ? State::revoked : State::ready, r);
}

void ClientSession::on(const proto::Error& m, double) {
  switch (m.code) {
    case proto::ErrorCode::bad_name:
      set(State::rejected, Reason::bad_name);
      break;
    case proto::ErrorCode::bad_room_code:
      set(State::rejected, Reason::bad_room_code);
      break;
    case proto::ErrorCode::rate_limited:
      // Before the welcome only the room-code guess limit refuses a join with rate_limited.
      if (state_ == State::connecting) set(State::rejected, Reason::guess_limit);
      break;
    case proto::ErrorCode::removed:
      stop_capture();
      set(State::rejected, Reason::removed);
      break;
    case proto::ErrorCode::server_full:
      stop_capture();
      set(State::unreachable, Reason::server_full);
      break;
    default:
      break;  // a refusal that changes nothing here (stale_talk, not_holder, ...)
  }
}

void ClientSession::meter(float level, std::uint32_t silence_ms, double now_ms) {
  if (state_ != State::live) {
    silence_ms_ = 0;
    return;
  }
  const bool was_hint = silence_hint();
  const bool moved = std::lround(level * 100) != std::lround(level_ * 100);
  level_ = level;
  // The capture counts silence from before the press too: a talk's silence starts at its grant.
  const double live_ms = std::max(0.0, now_ms - live_since_ms_);
  silence_ms_ = static_cast<std::uint32_t>(std::min<double>(silence_ms, live_ms));
  if (moved || was_hint != silence_hint()) view_changed_ = true;
}

void ClientSession::tick(double now_ms) {
  if (state_ == State::your_turn && now_ms >= turn_ends_at_ms_) {  // not taken up: handed back
    send(proto::FloorRelease{talk_id_});
    talk_id_ = 0;
    set(State::ready, Reason::turn_missed);
    return;
  }
  if (retry_at_ms_ == 0 || now_ms < retry_at_ms_) return;
  retry_at_ms_ = 0;
  if (pressed_ && state_ == State::busy && reason_ == Reason::rate_limited) request();
}

void ClientSession::request() {
  send(proto::FloorRequest{});
  // A fresh pre-roll: nothing said after the press is lost.
  if (capturing_) capture_.push_back({CaptureCommand::release, 0});
  capture_.push_back({CaptureCommand::press, 0});
  capturing_ = true;
  holder_.clear();
  position_ = 0;
  grant_at_ms_ = 0;
  set(State::requesting);
}

void ClientSession::stop_capture() {
  if (!capturing_) return;
  capture_.push_back({CaptureCommand::release, 0});
  capturing_ = false;
}

void ClientSession::set(State s, Reason r) {
  if (s != State::live) level_ = 0;
  if (s != State::busy) retry_at_ms_ = 0;
  state_ = s;
  reason_ = r;
  view_changed_ = true;
}

void ClientSession::send(const proto::ControlMessage& m) { outgoing_.push_back(proto::encode_control(m)); }

std::vector<std::string> ClientSession::take_outgoing() { return std::exchange(outgoing_, {}); }
std::vector<ClientSession::Capture> ClientSession::take_capture() { return std::exchange(capture_, {}); }
bool ClientSession::take_view_changed() { return std::exchange(view_changed_, false); }
bool ClientSession::take_tone() { return std::exchange(tone_, false); }

std::string_view ClientSession::to_string(State s) noexcept {
  switch (s) {
    case State::unreachable: return "unreachable";
    case State::connecting: return "connecting";
    case State::ready: return "ready";
    case State::requesting: return "requesting";
    case State::live: return "live";
    case State::busy: return "busy";
    case State::queued: return "queued";
    case State::your_turn: return "your_turn";
    case State::revoked: return "revoked";
    case State::rejected: return "rejected";
  }
  return "unreachable";
}

std::string_view ClientSession::to_string(Reason r) noexcept {
  switch (r) {
    case Reason::none: return "";
    case Reason::busy: return "busy";
    case Reason::rate_limited: return "rate_limited";
    case Reason::max_time: return "max_time";
    case Reason::unresponsive: return "unresponsive";
    case Reason::silence: return "silence";
    case Reason::admin: return "admin";
    case Reason::bad_name: return "bad_name";
    case Reason::bad_room_code: return "bad_room_code";
    case Reason::guess_limit: return "guess_limit";
    case Reason::server_full: return "server_full";
    case Reason::connection_lost: return "connection_lost";
    case Reason::removed: return "removed";
    case Reason::turn_missed: return "turn_missed";
  }
  return "";
}

}  // namespace ptt
