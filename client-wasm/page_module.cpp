// The page's module (ptt_page.wasm): the control protocol and the student's session of shared/
// (ptt/client_session.hpp) behind a C entry layer, for web/session.js. No Opus, no speexdsp: the
// worklet's module (capture_module.cpp) has those. Strings pass through one fixed text buffer; the
// page reads the view field by field (no JSON to parse again). Nothing here throws.
#include <emscripten/emscripten.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ptt/client_session.hpp"
#include "ptt/protocol.hpp"

namespace {

namespace proto = ptt::protocol;

constexpr int kTextBuffer = 4096;
char text_buffer[kTextBuffer];
ptt::ClientSession session;
std::vector<std::string> outgoing;
std::vector<ptt::ClientSession::Capture> capture;

int put_text(std::string_view s) {
  if (s.size() >= kTextBuffer) return -1;
  std::memcpy(text_buffer, s.data(), s.size());
  return static_cast<int>(s.size());
}

std::string_view text(int offset, int len) {
  if (offset < 0 || len < 0 || offset + len > kTextBuffer) return {};
  return {text_buffer + offset, static_cast<std::size_t>(len)};
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE char* ptt_text_buffer() { return text_buffer; }
EMSCRIPTEN_KEEPALIVE int ptt_text_buffer_size() { return kTextBuffer; }

// Normalises the name at [0, len) by the shared name rules; returns its new length, or -1.
EMSCRIPTEN_KEEPALIVE int ptt_normalise_name(int len) {
  auto name = proto::normalise_display_name(text(0, len));
  return name ? put_text(*name) : -1;
}

// ---- the session: inputs ------------------------------------------------------------------------

// Name at [0, name_len), room code right after it. Returns the join's length in the buffer, or -1
// when the session refused them (its state says why).
EMSCRIPTEN_KEEPALIVE int ptt_session_open(int name_len, int room_len) {
  const std::string join = session.open(text(0, name_len), text(name_len, room_len));
  return join.empty() ? -1 : put_text(join);
}
EMSCRIPTEN_KEEPALIVE void ptt_session_closed() { session.closed(); }
EMSCRIPTEN_KEEPALIVE void ptt_session_press(double now_ms) { session.press(now_ms); }
EMSCRIPTEN_KEEPALIVE void ptt_session_release(double now_ms) { session.release(now_ms); }
// The server message at [0, len). Returns 1, or 0 if it was not a valid server message.
EMSCRIPTEN_KEEPALIVE int ptt_session_receive(int len, double now_ms, double now_us) {
  return session.receive(text(0, len), now_ms, static_cast<std::uint64_t>(now_us)) ? 1 : 0;
}
EMSCRIPTEN_KEEPALIVE void ptt_session_meter(float level, int silence_ms, double now_ms) {
  session.meter(level, static_cast<std::uint32_t>(std::max(silence_ms, 0)), now_ms);
}
EMSCRIPTEN_KEEPALIVE void ptt_session_tick(double now_ms) { session.tick(now_ms); }
// When the session wants ptt_session_tick called (performance.now() ms), or 0.
EMSCRIPTEN_KEEPALIVE double ptt_session_wake_at() { return session.wake_at_ms(); }

// ---- the session: outputs -----------------------------------------------------------------------

// Takes what the last inputs produced. Returns bits: 1 messages to send, 2 capture commands,
// 4 the view changed, 8 play the grant tone.
EMSCRIPTEN_KEEPALIVE int ptt_session_take() {
  outgoing = session.take_outgoing();
  capture = session.take_capture();
  return (outgoing.empty() ? 0 : 1) | (capture.empty() ? 0 : 2) | (session.take_view_changed() ? 4 : 0) |
         (session.take_tone() ? 8 : 0);
}
EMSCRIPTEN_KEEPALIVE int ptt_outgoing_count() { return static_cast<int>(outgoing.size()); }
EMSCRIPTEN_KEEPALIVE int ptt_outgoing(int i) {
  return i >= 0 && i < static_cast<int>(outgoing.size()) ? put_text(outgoing[static_cast<std::size_t>(i)]) : -1;
}
EMSCRIPTEN_KEEPALIVE int ptt_capture_count() { return static_cast<int>(capture.size()); }
// 0 press, 1 grant, 2 release, 3 hold_gain.
EMSCRIPTEN_KEEPALIVE int ptt_capture_command(int i) { return static_cast<int>(capture.at(static_cast<std::size_t>(i)).command); }
EMSCRIPTEN_KEEPALIVE std::uint32_t ptt_capture_talk(int i) { return capture.at(static_cast<std::size_t>(i)).talk_id; }

// ---- the view -----------------------------------------------------------------------------------

EMSCRIPTEN_KEEPALIVE int ptt_view_state() { return put_text(ptt::ClientSession::to_string(session.state())); }
EMSCRIPTEN_KEEPALIVE int ptt_view_reason() { return put_text(ptt::ClientSession::to_string(session.reason())); }
EMSCRIPTEN_KEEPALIVE int ptt_view_holder() { return put_text(session.holder()); }
EMSCRIPTEN_KEEPALIVE int ptt_view_my_name() { return put_text(session.my_name()); }
EMSCRIPTEN_KEEPALIVE int ptt_view_floor_holder() { return put_text(session.floor_holder()); }
EMSCRIPTEN_KEEPALIVE int ptt_view_on_air() { return session.on_air() ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE int ptt_view_floor_taken() { return session.floor_taken() ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE int ptt_view_floor_mine() { return session.floor_mine() ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE int ptt_view_position() { return static_cast<int>(session.position()); }
EMSCRIPTEN_KEEPALIVE double ptt_view_grant_at_ms() { return session.grant_at_ms(); }
EMSCRIPTEN_KEEPALIVE int ptt_view_hand_raised() { return session.hand_raised() ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE double ptt_view_turn_ends_at_ms() { return session.turn_ends_at_ms(); }
EMSCRIPTEN_KEEPALIVE int ptt_view_queue_length() { return static_cast<int>(session.queue_length()); }
EMSCRIPTEN_KEEPALIVE int ptt_view_queue_mode() { return session.queue_mode() ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE double ptt_view_max_talk_ms() { return session.max_talk_ms(); }
EMSCRIPTEN_KEEPALIVE double ptt_view_live_since_ms() { return session.live_since_ms(); }
EMSCRIPTEN_KEEPALIVE float ptt_view_level() { return session.level(); }
EMSCRIPTEN_KEEPALIVE int ptt_view_silence_hint() { return session.silence_hint() ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE int ptt_view_feedback_hint() { return session.feedback_hint() ? 1 : 0; }

}  // extern "C"
