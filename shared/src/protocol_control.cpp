// Control messages: JSON text frames, validated field by field (docs/PROTOCOL.md section 3).
#include "ptt/protocol.hpp"

#include <array>
#include <nlohmann/json.hpp>

namespace ptt::protocol {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 21> kErrorNames = {
    "ok",         "truncated",     "too_large",      "bad_version",  "bad_flags",
    "bad_opus",   "malformed_json", "bad_utf8",      "unknown_type", "missing_field",
    "bad_field",  "not_joined",    "already_joined", "bad_name",     "bad_room_code",
    "rate_limited", "server_full", "not_holder",     "stale_talk",   "removed",
    "internal",
};
static_assert(kErrorNames.size() == static_cast<std::size_t>(ErrorCode::internal) + 1);

constexpr std::array<std::string_view, 4> kDenyNames = {"busy", "queued", "rate_limited", "not_joined"};
constexpr std::array<std::string_view, 4> kRevokeNames = {"max_time", "unresponsive", "silence", "admin"};

template <typename Enum, std::size_t N>
std::optional<Enum> enum_from(const std::array<std::string_view, N>& names, std::string_view s) noexcept {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<Enum>(i);
  return std::nullopt;
}

// Field readers for decode_control: each sets the error (with the field's name) and returns false.
struct Reader {
  const json& obj;
  std::string* detail;
  ErrorCode error = ErrorCode::ok;

  bool fail(ErrorCode code, std::string_view field, std::string_view why) {
    error = code;
    if (detail) {
      detail->assign("field '");
      detail->append(field);
      detail->append("' ");
      detail->append(why);
    }
    return false;
  }

  const json* find(std::string_view field, bool required) {
    auto it = obj.find(field);
    if (it == obj.end()) {
      if (required) fail(ErrorCode::missing_field, field, "is required");
      return nullptr;
    }
    return &*it;
  }

  bool u64(std::string_view field, std::uint64_t& out, std::uint64_t max, bool required = true) {
    const json* v = find(field, required);
    if (!v) return !required;
    if (!v->is_number_unsigned()) return fail(ErrorCode::bad_field, field, "must be a non-negative integer");
    const auto value = v->get<std::uint64_t>();
    if (value > max) return fail(ErrorCode::bad_field, field, "is out of range");
    out = value;
    return true;
  }

  bool u32(std::string_view field, std::uint32_t& out, bool required = true) {
    std::uint64_t v = out;
    if (!u64(field, v, 0xFFFFFFFFu, required)) return false;
    out = static_cast<std::uint32_t>(v);
    return true;
  }

  bool str(std::string_view field, std::string& out, std::size_t max_bytes, bool required = true) {
    const json* v = find(field, required);
    if (!v) return !required;
    if (!v->is_string()) return fail(ErrorCode::bad_field, field, "must be a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max_bytes) return fail(ErrorCode::bad_field, field, "is too long");
    out = s;
    return true;
  }

  bool boolean(std::string_view field, bool& out, bool required = true) {
    const json* v = find(field, required);
    if (!v) return !required;
    if (!v->is_boolean()) return fail(ErrorCode::bad_field, field, "must be true or false");
    out = v->get<bool>();
    return true;
  }

  template <typename Enum, std::size_t N>
  bool enumeration(std::string_view field, Enum& out, const std::array<std::string_view, N>& names) {
    std::string s;
    if (!str(field, s, 32)) return false;
    auto e = enum_from<Enum>(names, s);
    if (!e) return fail(ErrorCode::bad_field, field, "has an unknown value");
    out = *e;
    return true;
  }

  bool floor_state(FloorState& f) {
    return boolean("taken", f.taken) && u32("holder_id", f.holder_id) &&
           str("holder", f.holder, 4 * kMaxNameCodePoints) && u32("talk", f.talk_id) &&
           u32("queue", f.queue_length) && boolean("queue_mode", f.queue_mode, /*required=*/false) && consistent(f);
  }

  bool consistent(const FloorState& f) {
    if (f.taken != (f.holder_id != 0) || f.taken != (f.talk_id != 0) || f.taken == f.holder.empty())
      return fail(ErrorCode::bad_field, "taken", "contradicts holder_id/holder/talk");
    return true;
  }
};

json floor_state_json(const FloorState& f) {
  return json{{"taken", f.taken}, {"holder_id", f.holder_id}, {"holder", f.holder}, {"talk", f.talk_id},
              {"queue", f.queue_length}, {"queue_mode", f.queue_mode}};
}

}  // namespace

std::string_view to_string(ErrorCode code) noexcept {
  const auto i = static_cast<std::size_t>(code);
  return i < kErrorNames.size() ? kErrorNames[i] : std::string_view{"internal"};
}

std::optional<ErrorCode> error_code_from_string(std::string_view s) noexcept {
  return enum_from<ErrorCode>(kErrorNames, s);
}

std::string_view to_string(DenyReason r) noexcept { return kDenyNames[static_cast<std::size_t>(r)]; }
std::string_view to_string(RevokeReason r) noexcept { return kRevokeNames[static_cast<std::size_t>(r)]; }

std::string_view type_name(const ControlMessage& msg) noexcept {
  constexpr std::array<std::string_view, std::variant_size_v<ControlMessage>> names = {
      "join",          "floor_request", "floor_release", "welcome", "floor_granted", "floor_denied",
      "floor_revoked", "floor_state",   "error",         "ping",    "pong",          "feedback"};
  return names[msg.index()];
}

std::string encode_control(const ControlMessage& msg) {
  json j = std::visit(
      [](const auto& m) -> json {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Join>) {
          json o{{"name", m.name}};
          if (!m.room.empty()) o["room"] = m.room;
          return o;
        } else if constexpr (std::is_same_v<T, FloorRequest>) {
          return json::object();
        } else if constexpr (std::is_same_v<T, FloorRelease>) {
          return json{{"talk", m.talk_id}};
        } else if constexpr (std::is_same_v<T, Welcome>) {
          return json{{"id", m.client_id},          {"name", m.name},
                      {"protocol", kVersion},       {"max_talk_ms", m.max_talk_ms},
                      {"queue_mode", m.queue_mode}, {"floor", floor_state_json(m.floor)}};
        } else if constexpr (std::is_same_v<T, FloorGranted>) {
          return json{{"talk", m.talk_id}, {"max_talk_ms", m.max_talk_ms}};
        } else if constexpr (std::is_same_v<T, FloorDenied>) {
          json j{{"reason", to_string(m.reason)}, {"holder", m.holder}, {"position", m.position}};
          if (m.grant_in_ms != 0) j["grant_in_ms"] = m.grant_in_ms;
          return j;
        } else if constexpr (std::is_same_v<T, FloorRevoked>) {
          return json{{"talk", m.talk_id}, {"reason", to_string(m.reason)}};
        } else if constexpr (std::is_same_v<T, FloorState>) {
          return floor_state_json(m);
        } else if constexpr (std::is_same_v<T, Error>) {
          return json{{"code", to_string(m.code)}, {"message", m.message.substr(0, kMaxErrorMessageBytes)}};
        } else if constexpr (std::is_same_v<T, Ping>) {
          return json{{"t0", m.t0}};
        } else if constexpr (std::is_same_v<T, Feedback>) {
          return json{{"talk", m.talk_id}, {"coupling_db", m.coupling_db}, {"lowered", m.lowered}};
        } else {
          static_assert(std::is_same_v<T, Pong>);
          return json{{"t0", m.t0}, {"t1", m.t1}, {"t2", m.t2}};
        }
      },
      msg);
  j["type"] = type_name(msg);
  // replace: a string that is not UTF-8 is repaired rather than making dump() throw.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

ErrorCode decode_control(std::string_view text, ControlMessage& out, std::string* detail) noexcept {
  auto fail = [&](ErrorCode code, std::string_view why) {
    if (detail) detail->assign(why);
    return code;
  };
  if (text.size() > kMaxControlMessage) return fail(ErrorCode::too_large, "message exceeds 1024 bytes");
  if (!is_valid_utf8(text)) return fail(ErrorCode::bad_utf8, "message is not valid UTF-8");
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fail(ErrorCode::malformed_json, "message is not a JSON object");

  Reader r{j, detail};
  std::string type;
  // Any string is a type; one no message has (however long) is unknown_type.
  if (!r.str("type", type, kMaxControlMessage)) return r.error;

  ControlMessage msg;
  bool ok = false;
  if (type == "join") {
    // Members of the wrong type first (bad_field); then the byte limits, which refuse the join as
    // the room refuses any bad code or name, the room code before the name as the room checks them.
    Join m;
    constexpr std::size_t any = kMaxControlMessage;
    ok = r.str("name", m.name, any) && r.str("room", m.room, any, false);
    if (ok && m.room.size() > kMaxRoomCodeBytes)
      ok = r.fail(ErrorCode::bad_room_code, "room", "is over 32 bytes");
    if (ok && m.name.size() > kMaxNameBytes) ok = r.fail(ErrorCode::bad_name, "name", "is over 128 bytes");
    msg = std::move(m);
  } else if (type == "floor_request") {
    ok = true;
    msg = FloorRequest{};
  } else if (type == "floor_release") {
    FloorRelease m;
    ok = r.u32("talk", m.talk_id);
    msg = m;
  } else if (type == "welcome") {
    Welcome m;
    std::uint32_t protocol = 0;
    ok = r.u32("id", m.client_id) && r.str("name", m.name, 4 * kMaxNameCodePoints) && r.u32("protocol", protocol) &&
         r.u32("max_talk_ms", m.max_talk_ms) && r.boolean("queue_mode", m.queue_mode);
    if (ok && protocol != kVersion) ok = r.fail(ErrorCode::bad_version, "protocol", "is not version 1");
    if (ok) {
      const json* f = r.find("floor", true);
      if (!f) {
        ok = false;
      } else if (!f->is_object()) {
        ok = r.fail(ErrorCode::bad_field, "floor", "must be an object");
      } else {
        Reader fr{*f, detail};
        ok = fr.floor_state(m.floor);
        if (!ok) r.error = fr.error;
      }
    }
    msg = std::move(m);
  } else if (type == "floor_granted") {
    FloorGranted m;
    ok = r.u32("talk", m.talk_id) && r.u32("max_talk_ms", m.max_talk_ms);
    if (ok && m.talk_id == 0) ok = r.fail(ErrorCode::bad_field, "talk", "must not be 0");
    msg = m;
  } else if (type == "floor_denied") {
    FloorDenied m;
    ok = r.enumeration("reason", m.reason, kDenyNames) && r.str("holder", m.holder, 4 * kMaxNameCodePoints) &&
         r.u32("position", m.position) && r.u32("grant_in_ms", m.grant_in_ms, /*required=*/false);
    if (ok && (m.reason == DenyReason::queued) != (m.position != 0))
      ok = r.fail(ErrorCode::bad_field, "position", "must be non-zero exactly when queued");
    if (ok && m.grant_in_ms != 0 && m.position != 1)
      ok = r.fail(ErrorCode::bad_field, "grant_in_ms", "only the first in line has a countdown");
    msg = std::move(m);
  } else if (type == "floor_revoked") {
    FloorRevoked m;
    ok = r.u32("talk", m.talk_id) && r.enumeration("reason", m.reason, kRevokeNames);
    msg = m;
  } else if (type == "floor_state") {
    FloorState m;
    ok = r.floor_state(m);
    msg = std::move(m);
  } else if (type == "error") {
    Error m;
    std::string code;
    ok = r.str("code", code, 32) && r.str("message", m.message, kMaxErrorMessageBytes);
    if (ok) {
      auto c = error_code_from_string(code);
      if (!c || *c == ErrorCode::ok) ok = r.fail(ErrorCode::bad_field, "code", "has an unknown value");
      else m.code = *c;
    }
    msg = std::move(m);
  } else if (type == "ping") {
    Ping m;
    ok = r.u64("t0", m.t0, kMaxJsonInteger);
    msg = m;
  } else if (type == "pong") {
    Pong m;
    ok = r.u64("t0", m.t0, kMaxJsonInteger) && r.u64("t1", m.t1, kMaxJsonInteger) &&
         r.u64("t2", m.t2, kMaxJsonInteger);
    if (ok && m.t2 < m.t1) ok = r.fail(ErrorCode::bad_field, "t2", "is earlier than t1");
    msg = m;
  } else if (type == "feedback") {
    Feedback m;
    std::uint32_t talk = 0;
    ok = r.u32("talk", talk) && r.boolean("lowered", m.lowered);
    m.talk_id = talk;
    if (ok) {
      const json* c = r.find("coupling_db", true);
      if (!c) ok = false;
      else if (!c->is_number_integer() || c->get<std::int64_t>() < -99 || c->get<std::int64_t>() > 40)
        ok = r.fail(ErrorCode::bad_field, "coupling_db", "must be an integer from -99 to 40");
      else m.coupling_db = static_cast<std::int32_t>(c->get<std::int64_t>());
    }
    if (ok && m.talk_id == 0) ok = r.fail(ErrorCode::bad_field, "talk", "must not be 0");
    msg = m;
  } else {
    return fail(ErrorCode::unknown_type, "unknown message type");
  }
  if (!ok) return r.error;
  out = std::move(msg);
  return ErrorCode::ok;
}

}  // namespace ptt::protocol
