#include "room.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

namespace ptt::server {
namespace {

namespace proto = ptt::protocol;

std::size_t code_points(std::string_view s) { return ptt::text::code_point_count(s); }

// The first `count` code points of a valid UTF-8 string.
std::string first_code_points(const std::string& s, std::size_t count) {
  return std::string(ptt::text::first_code_points(s, count));
}

bool is_client_message(const proto::ControlMessage& m) {
  return std::holds_alternative<proto::Join>(m) || std::holds_alternative<proto::FloorRequest>(m) ||
         std::holds_alternative<proto::FloorRelease>(m) || std::holds_alternative<proto::Ping>(m) ||
         std::holds_alternative<proto::Pong>(m);
}

// The close code for a message refused in a way that ends the connection (docs/PROTOCOL.md
// section 5, rule 5).
std::uint16_t close_code_for(proto::ErrorCode code) {
  switch (code) {
    case proto::ErrorCode::too_large: return close_code::too_big;
    case proto::ErrorCode::bad_utf8: return close_code::bad_payload;
    default: return close_code::protocol_error;
  }
}

// Loopback connections are the laptop's own (a local reverse proxy, tests, benchmarks): no per-address cap.
bool is_loopback(const std::string& address) {
  return address.starts_with("127.") || address == "::1" || address.starts_with("::ffff:127.");
}

// At most one `rate_limited` error a second for audio over the rate, so a flood of frames cannot
// fill the client's outgoing queue with replies.
constexpr auto kAudioLimitNoticeInterval = std::chrono::seconds(1);
// A gap in a talk's packet sequence counted as lost: 2 s of 10 ms packets at most.
constexpr std::uint16_t kMaxCountedGap = 200;

std::int64_t room_us(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

// A capture time more than this far from the arrival is not believed (a sender's clock far off, or
// a field of nonsense): the packet's capture time is then unknown.
constexpr std::int64_t kMaxCaptureAgeUs = 60'000'000;

// The sender's capture time (its clock; 0: not given) on the room's clock, or TimePoint{}. The
// arithmetic is modulo 2^64, so no value of the field can overflow it.
TimePoint capture_on_room_clock(std::uint64_t capture_time_us, std::int64_t sender_minus_room_us, TimePoint arrival) {
  if (capture_time_us == 0) return {};
  const auto capture_us = capture_time_us - static_cast<std::uint64_t>(sender_minus_room_us);
  const auto age_us = static_cast<std::int64_t>(static_cast<std::uint64_t>(room_us(arrival)) - capture_us);
  if (age_us <= -kMaxCaptureAgeUs || age_us >= kMaxCaptureAgeUs) return {};
  return arrival - std::chrono::microseconds(age_us);
}

// The name a removal blocks: case folded (ASCII) and without the " (2)" the room adds to tell
// namesakes apart, so "ana" or "Ana (2)" is not a way straight back in. (Look-alike letters from
// other scripts still are: the block stops the page rejoining, not a student set on evading it.)
std::string removal_key(std::string_view name) {
  if (name.size() > 4 && name.back() == ')') {
    const auto open = name.rfind(" (");
    if (open != std::string_view::npos && open + 3 < name.size() &&
        name.substr(open + 2, name.size() - open - 3).find_first_not_of("0123456789") == std::string_view::npos)
      name = name.substr(0, open);
  }
  std::string key(name);
  for (char& ch : key)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return key;
}

// A student's place on the floor (`state` idle, queued with `position`, or live), as the admin
// status and the console show it.
void add_floor_place(nlohmann::json& j, const FloorControl& floor, ClientId id) {
  j["state"] = "idle";
  if (floor.holder() && floor.holder()->client == id) {
    j["state"] = "live";
  } else if (const auto position = floor.queue_position(id)) {
    j["state"] = "queued";
    j["position"] = position;
  }
}

}  // namespace

Room::Room(RoomConfig config, AudioSink* sink, WallClock wall_clock)
    : config_(std::move(config)), sink_(sink), wall_clock_(std::move(wall_clock)), floor_(config_.floor) {}

ClientId Room::connect(std::weak_ptr<Peer> peer, TimePoint now, std::string address, proto::Error* refusal) {
  if (clients_.size() >= config_.max_clients) {
    // Said at most every 10 s, with how many were turned away: a crowd at the door is one line.
    ++full_refusals_;
    if (full_noted_at_ == TimePoint{} || now - full_noted_at_ >= std::chrono::seconds(10)) {
      full_noted_at_ = now;
      record(LogEntry{wall_clock_(), "refused", "", "the room is full (" + std::to_string(clients_.size()) + " connections): " +
                      std::to_string(std::exchange(full_refusals_, 0)) + " turned away", -1}, false);
    }
    if (refusal) *refusal = proto::Error{proto::ErrorCode::server_full, "the room is full; try again later"};
    return 0;
  }
  if (config_.max_clients_per_address > 0 && !is_loopback(address)) {
    auto& n = per_address_[address];
    if (n >= config_.max_clients_per_address) {
      if (refusal)
        *refusal = proto::Error{proto::ErrorCode::rate_limited,
                                "too many connections from this device's network address; close a tab and try again"};
      return 0;
    }
    ++n;
  }
  const ClientId id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  // First ping at the next tick (the clock offset is wanted early), then each second from then on.
  clients_.emplace(id, Client{std::move(peer), {}, false, now, now, now - config_.ping_interval,
                              RateLimiter(config_.floor_requests_per_s, config_.floor_request_burst),
                              RateLimiter(config_.messages_per_s, config_.message_burst),
                              RateLimiter(config_.audio_frames_per_s, config_.audio_frame_burst), std::nullopt,
                              static_cast<std::int64_t>(wall_clock_()) - room_us(now), -1, std::move(address), 0, {}, {}});
  return id;
}

void Room::disconnect(ClientId id, TimePoint now) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  if (it->second.joined) {
    --joined_;
    record(LogEntry{wall_clock_(), "left", it->second.name, std::to_string(joined_) + " here", -1}, false);
  }
  if (auto a = per_address_.find(it->second.address); a != per_address_.end() && --a->second == 0) per_address_.erase(a);
  departed_name_ = std::move(it->second.name);  // the session log still names them
  clients_.erase(it);
  apply(floor_.remove(id, now), now, "disconnected");
  departed_name_.clear();
}

void Room::on_text(ClientId id, std::string_view text, TimePoint now) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = it->second;
  c.last_heard = now;
  floor_.heard_from(id, now);
  if (!c.messages.allow(now)) {
    error(c, proto::ErrorCode::rate_limited, "too many messages; slow down");
    return;
  }
  proto::ControlMessage msg;
  std::string detail;
  const auto code = proto::decode_control(text, msg, &detail);
  if (code == proto::ErrorCode::bad_name || code == proto::ErrorCode::bad_room_code) {
    // A join whose name or room code is over its byte limit: refused as any bad name or code.
    if (c.joined) error(c, proto::ErrorCode::already_joined, "already joined as " + c.name);
    else join(id, c, proto::Join{}, now, code);
    return;
  }
  if (code == proto::ErrorCode::too_large || code == proto::ErrorCode::bad_utf8) {
    // The session refuses these before they reach the room (too_large) or Beast does (bad_utf8);
    // the room closes the same way should one come through.
    ++stats_.protocol_errors;
    drop(id, close_code_for(code), code, detail, now);
    return;
  }
  if (code != proto::ErrorCode::ok) {
    // malformed_json, unknown_type, missing_field, bad_field (and bad_version, only possible in a
    // welcome, which is not a client message): the message is refused, the connection stays.
    ++stats_.protocol_errors;
    error(c, code, detail);
    return;
  }
  if (!is_client_message(msg)) {
    ++stats_.protocol_errors;
    error(c, proto::ErrorCode::unknown_type, std::string(proto::type_name(msg)) + " is not a client message");
    return;
  }
  handle(id, c, std::move(msg), now);
}

void Room::handle(ClientId id, Client& c, proto::ControlMessage&& msg, TimePoint now) {
  if (auto* ping = std::get_if<proto::Ping>(&msg)) {
    const std::uint64_t t1 = wall_clock_();
    send(id, proto::Pong{ping->t0, t1, wall_clock_()});
    return;
  }
  if (auto* pong = std::get_if<proto::Pong>(&msg)) {
    const std::uint64_t wall = wall_clock_();
    const auto sample = proto::clock_sample(*pong, wall);
    // Our clock read t0, so the sample's offset is the client's clock minus ours; keep the one
    // measured over the shortest round trip, the least disturbed by queueing.
    if (sample.round_trip_us >= 0 && (c.best_round_trip_us < 0 || sample.round_trip_us < c.best_round_trip_us)) {
      c.best_round_trip_us = sample.round_trip_us;
      // Client minus wall clock, plus wall minus room clock (both read as the pong is handled).
      c.sender_minus_room_us = sample.offset_us + (static_cast<std::int64_t>(wall) - room_us(now));
    }
    return;
  }
  if (auto* j = std::get_if<proto::Join>(&msg)) {
    if (c.joined) error(c, proto::ErrorCode::already_joined, "already joined as " + c.name);
    else join(id, c, *j, now);
    return;
  }
  if (!c.joined) {
    error(c, proto::ErrorCode::not_joined, "send join first");
    return;
  }
  if (std::holds_alternative<proto::FloorRequest>(msg)) {
    // Asking again from the line or the floor changes nothing, and is answered with the place held
    // (the message limit bounds it), never with a rate_limited that would read as out of line.
    const bool placed = floor_.queue_position(id) != 0 || (floor_.holder() && floor_.holder()->client == id);
    if (!placed && !c.floor_requests.allow(now)) {
      send(id, proto::FloorDenied{proto::DenyReason::rate_limited, "", 0});
      return;
    }
    auto r = floor_.request(id, now);
    switch (r.outcome) {
      case RequestOutcome::granted:
        apply(r.change, now, "asked");
        break;
      case RequestOutcome::already_holding:
        send(id, proto::FloorGranted{floor_.holder()->talk_id, static_cast<std::uint32_t>(config_.floor.max_talk.count())});
        break;
      case RequestOutcome::busy:
        log("denied", id, holder_name() + " was speaking");
        send(id, proto::FloorDenied{proto::DenyReason::busy, holder_name(), 0});
        break;
      case RequestOutcome::queued:
        if (r.change.queue_changed) {
          log("queued", id, "position " + std::to_string(r.position));
          apply(r.change, now);  // tells this client its place (and no one whose place is unchanged)
        } else {  // asked again: the answer is its place, unchanged
          queue_told_.erase(id);  // so that it alone is told again
          send_queue_positions(now);
        }
        break;
    }
    return;
  }
  if (auto* rel = std::get_if<proto::FloorRelease>(&msg)) {
    auto r = floor_.release(id, rel->talk_id, now);
    switch (r.outcome) {
      case ReleaseOutcome::released:
        apply(r.change, now, "released");
        break;
      case ReleaseOutcome::left_queue:
        log("left line", id, "let go");
        apply(r.change, now);
        break;
      case ReleaseOutcome::not_holder:
        error(c, proto::ErrorCode::not_holder, "you do not hold the floor");
        break;
      case ReleaseOutcome::stale_talk:
        error(c, proto::ErrorCode::stale_talk, "that talk is over");
        break;
    }
  }
}

void Room::join(ClientId id, Client& c, const proto::Join& j, TimePoint now, proto::ErrorCode refused) {
  const bool room_too_long = refused == proto::ErrorCode::bad_room_code;
  if (!config_.room_code.empty()) {
    auto guesses = code_guesses_.find(c.address);
    if (guesses != code_guesses_.end() && guesses->second.exhausted(now)) {
      ++stats_.room_code_refusals;
      drop(id, close_code::policy, proto::ErrorCode::rate_limited,
           "too many wrong room codes from this network; wait a minute and try again", now);
      return;
    }
    // (A join refused for its name's length carries no room code to check: it is refused for the name.)
    if (room_too_long || (refused == proto::ErrorCode::ok && j.room != config_.room_code)) {
      if (room_too_long || !j.room.empty()) {  // a page asking for the code first is not a guess
        record(LogEntry{wall_clock_(), "refused", "", "a wrong room code from " + c.address, -1}, false);
        if (guesses == code_guesses_.end())
          guesses = code_guesses_.emplace(c.address, RateLimiter(config_.room_code_guesses_per_s,
                                                                 config_.room_code_guess_burst)).first;
        guesses->second.allow(now);
        ++stats_.room_code_refusals;
      }
      drop(id, close_code::policy, proto::ErrorCode::bad_room_code,
           room_too_long ? "room codes are at most 32 bytes"
           : j.room.empty() ? "this room needs a room code" : "wrong room code", now);
      return;
    }
  } else if (room_too_long) {
    drop(id, close_code::policy, proto::ErrorCode::bad_room_code, "room codes are at most 32 bytes", now);
    return;
  }
  if (refused == proto::ErrorCode::bad_name) {
    drop(id, close_code::policy, proto::ErrorCode::bad_name, "names are at most 128 bytes", now);
    return;
  }
  auto name = proto::normalise_display_name(j.name);
  if (!name) {
    drop(id, close_code::policy, proto::ErrorCode::bad_name,
         "names are 1 to 32 characters, at least one of them visible, without control characters", now);
    return;
  }
  if (auto removed = removed_.find({c.address, removal_key(*name)}); removed != removed_.end()) {
    if (now < removed->second) {
      const auto wait_s = std::chrono::ceil<std::chrono::seconds>(removed->second - now).count();
      drop(id, close_code::policy, proto::ErrorCode::removed,
           "the professor removed you; you can join again in " + std::to_string(wait_s) + " s", now);
      return;
    }
    removed_.erase(removed);
  }
  c.asked_name = *name;
  c.name = unique_name(*name);
  c.joined = true;
  c.floor_version = floor_version_;  // the welcome carries the current state
  ++joined_;
  record(LogEntry{wall_clock_(), "joined", c.name, std::to_string(joined_) + " here", -1}, false);
  send(id, proto::Welcome{id, c.name, static_cast<std::uint32_t>(config_.floor.max_talk.count()),
                          floor_.mode() != FloorMode::first_come, floor_state()});
}

void Room::on_binary(ClientId id, const std::uint8_t* data, std::size_t size, TimePoint now) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = it->second;
  c.last_heard = now;
  if (!c.audio_frames.allow(now)) {  // before decoding: a flood costs no more than this
    ++stats_.audio_rate_limited;
    floor_.heard_from(id, now);
    if (!c.audio_limit_told || now - *c.audio_limit_told >= kAudioLimitNoticeInterval) {
      c.audio_limit_told = now;
      error(c, proto::ErrorCode::rate_limited, "too many audio frames; the excess is dropped");
    }
    return;
  }
  if (!c.joined) {  // as any other message before join: refused (told at most once a second), and the connection stays
    if (!c.audio_limit_told || now - *c.audio_limit_told >= kAudioLimitNoticeInterval) {
      c.audio_limit_told = now;
      error(c, proto::ErrorCode::not_joined, "send join first; audio before join is ignored");
    }
    return;
  }
  proto::AudioFrameView frame;
  const auto code = proto::decode_audio_frame(data, size, frame);
  if (code != proto::ErrorCode::ok) {
    ++stats_.protocol_errors;
    drop(id, close_code_for(code), code, "malformed audio frame: " + std::string(proto::to_string(code)), now);
    return;
  }
  if (!floor_.accepts_audio(id, frame.header.talk_id)) {
    ++stats_.audio_dropped;  // audio in flight when the floor changed hands: expected, not an error
    floor_.heard_from(id, now);
    return;
  }
  floor_.heard_from(id, now, (frame.header.flags & proto::audio_flags::kSpeech) != 0);
  ++stats_.audio_accepted;
  auto& tp = c.talk_packets;
  if (tp.talk != frame.header.talk_id) tp = Client::TalkPackets{frame.header.talk_id, 0, 0, frame.header.sequence};
  // A step forward: the packets between were lost on the way, unless the step is more than a page
  // could have sent in the meantime (a sender that does not follow the protocol starts over
  // there). A step back fills a gap counted before.
  if (const auto ahead = static_cast<std::uint16_t>(frame.header.sequence - tp.next_sequence); ahead < 0x8000) {
    if (ahead <= kMaxCountedGap) tp.missing += ahead;
    tp.next_sequence = static_cast<std::uint16_t>(frame.header.sequence + 1);
  } else if (tp.missing > 0) {
    --tp.missing;
  }
  ++tp.received;
  if (sink_)
    sink_->audio(audio_packet(frame, id, now, capture_on_room_clock(frame.header.capture_time_us, c.sender_minus_room_us, now)));
}

void Room::tick(TimePoint now) {
  const auto change = floor_.tick(now);
  apply(change, now, change.auto_approved ? "auto-approved" : "");
  update_consoles(now, false);
  update_meters(now);
  tell_feedback();

  // Each client is pinged on its own schedule, from when it connected: with thousands connected,
  // a tick pings a slice of them rather than all at once (which would delay every other message).
  std::shared_ptr<const std::string> ping;
  for (auto& [id, c] : clients_) {
    if (now - c.last_ping < config_.ping_interval) continue;
    if (!ping) ping = std::make_shared<const std::string>(proto::encode_control(proto::Ping{wall_clock_()}));
    c.last_ping = now;
    send(c, ping);
  }

  std::vector<std::pair<ClientId, bool>> expired;  // id, joined
  for (const auto& [id, c] : clients_) {
    if (!c.joined && now - c.connected >= config_.join_timeout) expired.emplace_back(id, false);
    else if (now - c.last_heard >= config_.idle_timeout) expired.emplace_back(id, true);
  }
  for (const auto& [id, joined] : expired) {
    if (joined) drop(id, close_code::going_away, proto::ErrorCode::ok, "idle timeout", now);
    else drop(id, close_code::policy, proto::ErrorCode::not_joined, "no join within the time limit", now);
  }

  // Forget sources whose guesses have all been forgiven, so addresses cannot grow the map forever.
  if (now - last_guess_sweep_ >= std::chrono::seconds(10)) {
    last_guess_sweep_ = now;
    for (auto it = code_guesses_.begin(); it != code_guesses_.end();)
      it = it->second.full(now) ? code_guesses_.erase(it) : std::next(it);
    for (auto it = removed_.begin(); it != removed_.end();) it = now >= it->second ? removed_.erase(it) : std::next(it);
  }
}

bool Room::revoke_floor(TimePoint now) {
  const auto change = floor_.revoke(proto::RevokeReason::admin, now);
  apply(change, now);
  return change.floor_changed();
}

bool Room::grant_floor(ClientId id, TimePoint now) {
  const auto change = floor_.grant_queued(id, now);
  apply(change, now, "by the professor");
  return change.floor_changed();
}

bool Room::dequeue(ClientId id, TimePoint now) {
  const auto change = floor_.dequeue(id, now);
  apply(change, now, "taken out by the professor");
  return change.queue_changed;
}

bool Room::remove_client(ClientId id, TimePoint now) {
  auto it = clients_.find(id);
  if (it == clients_.end() || !it->second.joined) return false;
  removed_[{it->second.address, removal_key(it->second.asked_name)}] = now + config_.removal_block;
  log("removed", id, "by the professor");
  const auto block_s = std::chrono::ceil<std::chrono::seconds>(config_.removal_block).count();
  drop(id, close_code::policy, proto::ErrorCode::removed,
       "the professor removed you; you can join again in " + std::to_string(block_s) + " s", now);
  return true;
}

bool Room::set_floor_mode(FloorMode mode, TimePoint now) {
  if (mode == floor_.mode()) return false;
  record(LogEntry{wall_clock_(), "mode", "", std::string(to_string(mode)), -1});
  const auto change = floor_.set_mode(mode, now);
  apply(change, now, "mode change");
  // Every student learns whether a refused press now waits in line (the raised hand).
  if (!change.floor_changed() && !change.queue_changed) broadcast_floor_state();
  return true;
}

bool Room::set_auto_approve(std::chrono::milliseconds delay, TimePoint now) {
  if (delay == floor_.auto_approve()) return false;
  floor_.set_auto_approve(delay, now);
  record(LogEntry{wall_clock_(), "auto-approve", "",
                    delay.count() ? "after " + std::to_string(std::chrono::ceil<std::chrono::seconds>(delay).count()) + " s" : "off", -1});
  apply({}, now);  // tells the first in line of a countdown that started or stopped
  return true;
}

void Room::close_all(std::uint16_t code, std::string_view reason, TimePoint now) {
  std::vector<ClientId> ids;
  for (const auto& [id, c] : clients_) ids.push_back(id);
  for (ClientId id : ids) drop(id, code, proto::ErrorCode::ok, reason, now);
}

std::string Room::status_json() const {
  nlohmann::json clients = nlohmann::json::array();
  for (const auto& [id, c] : clients_) {
    if (!c.joined) continue;
    nlohmann::json j{{"id", id}, {"name", c.name}};
    add_floor_place(j, floor_, id);
    clients.push_back(std::move(j));
  }
  const auto floor = nlohmann::json::parse(proto::encode_control(floor_state()));
  return nlohmann::json{{"connections", clients_.size()},
                        {"clients", clients},
                        {"floor", floor},
                        {"queue_mode", floor_.mode() != FloorMode::first_come},
                        {"floor_mode", to_string(floor_.mode())},
                        {"stats",
                         {{"talks", stats_.talks},
                          {"audio_accepted", stats_.audio_accepted},
                          {"audio_dropped", stats_.audio_dropped},
                          {"audio_rate_limited", stats_.audio_rate_limited},
                          {"protocol_errors", stats_.protocol_errors},
                          {"room_code_refusals", stats_.room_code_refusals}}}}
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

ClientId Room::connect_console(std::weak_ptr<Peer> peer, TimePoint now, std::string login) {
  std::size_t open = 0;
  for (const auto& [cid, console] : consoles_) open += console.login == login;
  for (auto it = consoles_.begin(); open >= kMaxChannelsPerLogin && it != consoles_.end();) {
    if (it->second.login != login) {
      ++it;
      continue;
    }
    if (auto p = it->second.peer.lock()) {
      p->send(std::make_shared<const std::string>(R"({"type":"error","message":"this console is open in too many tabs: this one closed"})"));
      p->close(close_code::try_again_later, "too many console tabs");
    }
    it = consoles_.erase(it);
    --open;
  }
  const ClientId id = next_console_id_++;
  if (auto p = peer.lock()) p->send(std::make_shared<const std::string>(console_json(now)));
  consoles_.emplace(id, Console{std::move(peer), std::move(login)});
  return id;
}

void Room::close_consoles(std::string_view login) {
  for (auto it = consoles_.begin(); it != consoles_.end();) {
    if (it->second.login != login) {
      ++it;
      continue;
    }
    if (auto p = it->second.peer.lock()) {
      p->send(std::make_shared<const std::string>(R"({"type":"error","message":"logged out: log in again"})"));
      p->close(close_code::policy, "logged out");
    }
    it = consoles_.erase(it);
  }
}

void Room::disconnect_console(ClientId id) { consoles_.erase(id); }

void Room::update_consoles(TimePoint now, bool force) {
  if (consoles_.empty() || (!force && now - console_sent_at_ < std::chrono::milliseconds(250))) return;
  // The view without its clock: a talk's elapsed time alone is no reason to send (the page counts on).
  auto view = nlohmann::json::parse(console_json(now));
  view["floor"].erase("elapsed_ms");
  if (view["countdown"].is_object()) view["countdown"].erase("ms");
  auto compare = view.dump();
  if (!force && compare == console_sent_) return;
  console_sent_ = std::move(compare);
  console_sent_at_ = now;
  const auto text = std::make_shared<const std::string>(console_json(now));
  for (auto& [id, console] : consoles_)
    if (auto p = console.peer.lock()) p->send(text);
}

namespace {
double percent(std::uint32_t part, std::uint32_t whole) {
  return whole == 0 ? 0.0 : std::round(1000.0 * part / whole) / 10.0;
}
}  // namespace

// The speakers come back through the talker's microphone (the audio path measures it): the talker
// is told once per talk, and the session log says so.
void Room::tell_feedback() {
  const auto& h = floor_.holder();
  if (!h || !sink_ || feedback_told_ == h->talk_id) return;
  const LiveMeter live = sink_->live_meter();
  if (live.talk_id != h->talk_id || !live.feedback_warning) return;
  feedback_told_ = h->talk_id;
  const int coupling = static_cast<int>(std::lround(std::clamp(live.feedback_db, -99.0f, 40.0f)));
  send(h->client, proto::Feedback{h->talk_id, coupling, live.lowered_db < -0.5f});
  record(LogEntry{wall_clock_(), "feedback", name_of(h->client).value_or("?"),
                  "speakers heard in the microphone at " + std::to_string(coupling) + " dB" +
                      (live.lowered_db < -0.5f ? ", playback lowered" : ""),
                  -1});
}

void Room::update_meters(TimePoint now) {
  const auto& h = floor_.holder();
  if (consoles_.empty() || !h || now - meter_sent_at_ < std::chrono::milliseconds(100)) return;
  meter_sent_at_ = now;
  auto it = clients_.find(h->client);
  if (it == clients_.end()) return;
  const auto& tp = it->second.talk_packets;
  const bool this_talk = tp.talk == h->talk_id;
  const std::uint32_t received = this_talk ? tp.received : 0, missing = this_talk ? tp.missing : 0;
  nlohmann::json m{{"type", "meter"}, {"client", h->client}, {"talk", h->talk_id},
                   {"received", received}, {"missing", missing}, {"lost_pct", percent(missing, received + missing)},
                   {"level_db", nullptr}};
  // What the speakers play: the level, and the packets that came too late for their turn.
  if (const LiveMeter live = sink_ ? sink_->live_meter() : LiveMeter{}; live.talk_id == h->talk_id) {
    m["level_db"] = std::round(live.level_db * 10.0f) / 10.0f;
    m["late_pct"] = percent(live.late, live.played + live.late);
    // Feedback from the speakers into this microphone, and the playback's protection against it.
    if (live.feedback_db > -99.0f) m["feedback_db"] = std::round(live.feedback_db);
    if (live.lowered_db < -0.5f) m["lowered_db"] = std::round(live.lowered_db);
    if (live.notches > 0) m["notches"] = live.notches;
    if (live.echo_cancelled) m["echo_cancelled"] = true;
  }
  const auto text = std::make_shared<const std::string>(m.dump());
  for (auto& [id, console] : consoles_)
    if (auto p = console.peer.lock()) p->send(text);
}

std::string Room::console_json(TimePoint now) const {
  nlohmann::json clients = nlohmann::json::array();
  for (const auto& [id, c] : clients_) {
    if (!c.joined) continue;
    nlohmann::json j{{"id", id},
                     {"name", c.name},
                     {"connected_s", std::chrono::duration_cast<std::chrono::seconds>(now - c.connected).count()},
                     {"rtt_ms", c.best_round_trip_us < 0 ? -1 : (c.best_round_trip_us + 500) / 1000}};
    add_floor_place(j, floor_, id);
    // The last finished talk's packet loss (the live talk's is in the meter messages).
    const auto& tp = c.talk_packets;
    if (tp.talk != 0 && !(floor_.holder() && floor_.holder()->talk_id == tp.talk))
      j["last_talk"] = {{"received", tp.received}, {"missing", tp.missing}, {"lost_pct", percent(tp.missing, tp.received + tp.missing)}};
    clients.push_back(std::move(j));
  }
  nlohmann::json floor{{"taken", false}, {"max_talk_ms", config_.floor.max_talk.count()}};
  if (const auto& h = floor_.holder()) {
    floor["taken"] = true;
    floor["holder_id"] = h->client;
    floor["holder"] = name_of(h->client).value_or("");
    floor["talk"] = h->talk_id;
    floor["elapsed_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(now - floor_.talk_started()).count();
  }
  nlohmann::json queue = nlohmann::json::array();
  for (ClientId id : floor_.queue()) queue.push_back(id);
  nlohmann::json countdown = nullptr;
  if (const auto& a = floor_.auto_grant())
    countdown = {{"client", a->client}, {"ms", std::chrono::ceil<std::chrono::milliseconds>(a->at - now).count()}};
  // The newest 50 entries of the session log (all of it: GET /admin/log.csv).
  nlohmann::json log = nlohmann::json::array();
  const auto& entries = log_.entries();
  for (auto it = entries.size() > 50 ? entries.end() - 50 : entries.begin(); it != entries.end(); ++it) {
    nlohmann::json e{{"time", iso_utc(it->wall_us)}, {"event", it->event}, {"student", it->student}, {"detail", it->detail}};
    if (it->duration_ms >= 0) e["duration_ms"] = it->duration_ms;
    log.push_back(std::move(e));
  }
  return nlohmann::json{{"type", "room"}, {"mode", to_string(floor_.mode())},
                        {"clients", clients}, {"floor", floor},
                        {"queue", queue},   {"talks", stats_.talks},
                        {"auto_approve_s", std::chrono::ceil<std::chrono::seconds>(floor_.auto_approve()).count()},
                        {"countdown", countdown},
                        {"join_urls", join_urls_}, {"room_code", config_.room_code},
                        {"log", log},
                        {"output", {{"muted", output_muted_}, {"volume", output_volume_}}}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Room::on_console_text(ClientId id, std::string_view text, TimePoint now) {
  auto console = consoles_.find(id);
  if (console == consoles_.end()) return;
  auto reply = [&](nlohmann::json j) {
    if (auto p = console->second.peer.lock())
      p->send(std::make_shared<const std::string>(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  };
  if (!console->second.actions.allow(now))
    return reply({{"type", "error"}, {"message", "too many actions: at most 10 a second"}});
  const auto msg = nlohmann::json::parse(text, nullptr, false);
  if (!msg.is_object()) return reply({{"type", "error"}, {"message", "an action is a JSON object with a `type`"}});
  const auto type = msg.contains("type") && msg["type"].is_string() ? msg["type"].get<std::string>() : "";
  auto client = [&]() -> ClientId {
    if (!msg.contains("client") || !msg["client"].is_number_unsigned()) return 0;
    const auto v = msg["client"].get<std::uint64_t>();
    return v <= 0xffffffffu ? static_cast<ClientId>(v) : 0;
  };
  bool changed = false;
  if (type == "revoke") {
    changed = revoke_floor(now);
  } else if (type == "grant" || type == "dequeue" || type == "remove") {
    const ClientId target = client();
    if (target == 0) return reply({{"type", "error"}, {"action", type}, {"message", "`client` must be a student's id"}});
    changed = type == "grant" ? grant_floor(target, now) : type == "dequeue" ? dequeue(target, now) : remove_client(target, now);
  } else if (type == "mode") {
    const auto mode = msg.contains("mode") && msg["mode"].is_string()
                          ? floor_mode_from_string(msg["mode"].get<std::string>()) : std::nullopt;
    if (!mode) return reply({{"type", "error"}, {"action", type}, {"message", "`mode` is first_come, queue or moderated"}});
    changed = set_floor_mode(*mode, now);
  } else if (type == "auto_approve") {
    if (!msg.contains("seconds") || !msg["seconds"].is_number_unsigned() || msg["seconds"].get<std::uint64_t>() > 60)
      return reply({{"type", "error"}, {"action", type}, {"message", "`seconds` is 0 (off) to 60"}});
    changed = set_auto_approve(std::chrono::seconds(msg["seconds"].get<std::uint64_t>()), now);
  } else if (type == "output") {
    // {"type":"output","muted":bool,"volume":0..1}: either field alone changes only itself.
    const bool has_muted = msg.contains("muted"), has_volume = msg.contains("volume");
    if ((!has_muted && !has_volume) || (has_muted && !msg["muted"].is_boolean()) ||
        (has_volume && (!msg["volume"].is_number() || !(msg["volume"].get<double>() >= 0.0) || msg["volume"].get<double>() > 1.0)))
      return reply({{"type", "error"}, {"action", type}, {"message", "`muted` is true or false, `volume` 0 to 1"}});
    const bool muted = has_muted ? msg["muted"].get<bool>() : output_muted_;
    const double volume = has_volume ? msg["volume"].get<double>() : output_volume_;
    changed = muted != output_muted_ || volume != output_volume_;
    const bool unmuted = output_muted_ && !muted;
    output_muted_ = muted;
    output_volume_ = volume;
    if (sink_) sink_->set_output_gain(muted ? 0.0f : static_cast<float>(volume));
    if (changed)
      record(LogEntry{wall_clock_(), "output", "",
                        muted ? "muted" : (unmuted ? "unmuted, volume " : "volume ") + std::to_string(std::lround(volume * 100)) + " %", -1});
  } else {
    return reply({{"type", "error"}, {"message", "unknown action: revoke, grant, dequeue, remove, mode, auto_approve or output"}});
  }
  reply({{"type", "done"}, {"action", type}, {"changed", changed}});
  if (changed) update_consoles(now, true);  // at once, so the professor sees the action land
}

void Room::record(LogEntry entry, bool keep) {
  if (config_.on_event) config_.on_event(entry);
  if (keep) log_.add(std::move(entry));
}

void Room::log(std::string event, ClientId id, std::string detail, std::int64_t duration_ms) {
  record(LogEntry{wall_clock_(), std::move(event), name_of(id).value_or(departed_name_), std::move(detail), duration_ms});
}

void Room::apply(const FloorChange& change, TimePoint now, std::string_view cause) {
  if (change.ended) {
    std::string how = cause.empty() ? "released" : std::string(cause);
    if (change.revoked) {
      switch (*change.revoked) {
        case proto::RevokeReason::max_time: how = "revoked: time limit"; break;
        case proto::RevokeReason::unresponsive: how = "revoked: connection stalled"; break;
        case proto::RevokeReason::silence: how = "revoked: silence"; break;
        case proto::RevokeReason::admin: how = "revoked: the professor"; break;
      }
    }
    log("ended", change.ended->client, std::move(how),
        std::chrono::duration_cast<std::chrono::milliseconds>(now - live_talk_start_).count());
  }
  if (change.granted) {
    live_talk_start_ = now;
    log("granted", change.granted->client, change.ended ? "next in line" : cause.empty() ? "next in line" : std::string(cause));
  }
  for (ClientId id : change.left_queue) log("left line", id, std::string(cause));
  if (change.ended) {
    if (sink_) sink_->talk_ended(change.ended->talk_id, now);
    if (change.revoked) send(change.ended->client, proto::FloorRevoked{change.ended->talk_id, *change.revoked});
  }
  if (change.granted) {
    ++stats_.talks;
    if (sink_) sink_->talk_started(change.granted->talk_id, name_of(change.granted->client).value_or("?"), now);
    send(change.granted->client,
         proto::FloorGranted{change.granted->talk_id, static_cast<std::uint32_t>(config_.floor.max_talk.count())});
  }
  if (!change.left_queue.empty()) {
    const auto holder = holder_name();
    for (ClientId id : change.left_queue) send(id, proto::FloorDenied{proto::DenyReason::busy, holder, 0});
  }
  if (change.floor_changed() || change.queue_changed) broadcast_floor_state();
  const auto& countdown = floor_.auto_grant();
  const bool countdown_changed = countdown.has_value() != countdown_told_.has_value() ||
                                 (countdown && (countdown->client != countdown_told_->client || countdown->at != countdown_told_->at));
  if (change.floor_changed() || change.queue_changed || countdown_changed) {
    countdown_told_ = countdown;
    send_queue_positions(now);
  }
}

std::string Room::holder_name() const {
  const auto& h = floor_.holder();
  return h ? name_of(h->client).value_or("") : std::string{};
}

void Room::send_queue_positions(TimePoint now) {
  // Only those whose place or holder changed are told: a newcomer at the back is the only one told
  // of its arrival, where telling everyone each time made n arrivals cost n^2 / 2 messages.
  // In moderated mode the line also waits while the floor is free (holder 0, no name).
  std::map<ClientId, QueueNotice> told;
  const ClientId holder = floor_.holder() ? floor_.holder()->client : 0;
  std::optional<std::string> name;
  std::uint32_t position = 0;
  const auto& countdown = floor_.auto_grant();
  for (ClientId id : floor_.queue()) {
    const QueueNotice notice{++position, holder, countdown && countdown->client == id ? countdown->at : TimePoint{}};
    auto before = queue_told_.find(id);
    if (before == queue_told_.end() || before->second.position != notice.position ||
        before->second.holder != notice.holder || before->second.grant_at != notice.grant_at) {
      if (!name) name = holder_name();
      const auto grant_in = notice.grant_at == TimePoint{} ? 0
          : std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(notice.grant_at - now).count());
      send(id, proto::FloorDenied{proto::DenyReason::queued, *name, notice.position, static_cast<std::uint32_t>(grant_in)});
    }
    told.emplace(id, notice);
  }
  queue_told_ = std::move(told);  // those no longer in line are forgotten
}

proto::FloorState Room::floor_state() const {
  proto::FloorState s;
  s.queue_length = static_cast<std::uint32_t>(floor_.queue().size());
  s.queue_mode = floor_.mode() != FloorMode::first_come;
  if (const auto& h = floor_.holder()) {
    s.taken = true;
    s.holder_id = h->client;
    s.holder = name_of(h->client).value_or("?");
    s.talk_id = h->talk_id;
  }
  return s;
}

std::optional<std::string> Room::name_of(ClientId id) const {
  auto it = clients_.find(id);
  if (it == clients_.end()) return std::nullopt;
  return it->second.name;
}

std::string Room::unique_name(const std::string& wanted) const {
  auto taken = [&](const std::string& n) {
    for (const auto& [id, c] : clients_)
      if (c.joined && c.name == n) return true;
    return false;
  };
  if (!taken(wanted)) return wanted;
  for (int k = 2;; ++k) {
    const std::string suffix = " (" + std::to_string(k) + ")";
    std::string base = wanted;
    if (code_points(base) + suffix.size() > proto::kMaxNameCodePoints)
      base = first_code_points(base, proto::kMaxNameCodePoints - suffix.size());
    if (!taken(base + suffix)) return base + suffix;
  }
}

void Room::send(ClientId id, const proto::ControlMessage& msg) {
  auto it = clients_.find(id);
  if (it != clients_.end()) send(it->second, std::make_shared<const std::string>(proto::encode_control(msg)));
}

void Room::send(Client& c, std::shared_ptr<const std::string> text) {
  if (auto p = c.peer.lock()) p->send(std::move(text));
}

void Room::broadcast_floor_state() {
  floor_text_ = std::make_shared<const std::string>(proto::encode_control(floor_state()));
  ++floor_version_;
  sweep_from_ = 0;  // clients already swept need the newer state too
  sweeping_ = true;
  continue_broadcast();
}

void Room::continue_broadcast() {
  if (!sweeping_) return;
  const std::size_t slice = config_.broadcast_slice ? config_.broadcast_slice : clients_.size();
  std::size_t sent = 0;
  auto it = clients_.lower_bound(sweep_from_);
  for (; it != clients_.end() && sent < slice; ++it) {
    Client& c = it->second;
    if (!c.joined || c.floor_version == floor_version_) continue;
    c.floor_version = floor_version_;
    send(c, floor_text_);
    ++sent;
  }
  if (it == clients_.end()) {
    sweeping_ = false;
    floor_text_.reset();
  } else {
    sweep_from_ = it->first;
  }
}

void Room::error(Client& c, proto::ErrorCode code, std::string_view message) {
  send(c, std::make_shared<const std::string>(proto::encode_control(proto::Error{code, std::string(message)})));
}

void Room::drop(ClientId id, std::uint16_t close_code, proto::ErrorCode code, std::string_view message,
                TimePoint now) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  if (code != proto::ErrorCode::ok) error(it->second, code, message);
  if (auto p = it->second.peer.lock()) p->close(close_code, message);
  disconnect(id, now);
}

}  // namespace ptt::server
