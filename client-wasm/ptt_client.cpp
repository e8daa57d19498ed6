// The C entry layer over shared/, built as one standalone WebAssembly module. The AudioWorklet
// instantiates it for capture (ptt_capture_*); the page's main thread instantiates the same module
// for the control protocol (ptt_encode_* / ptt_decode), so the browser's JavaScript never builds
// or parses the wire format itself. Strings and packets pass through fixed buffers in the module's
// memory; nothing here throws.
#include <emscripten/emscripten.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "ptt/capture_pipeline.hpp"
#include "ptt/protocol.hpp"

namespace {

namespace proto = ptt::protocol;

constexpr int kTextBuffer = 4096;
char text_buffer[kTextBuffer];
float input_buffer[1024];
alignas(ptt::CapturePipeline) unsigned char pipeline_storage[sizeof(ptt::CapturePipeline)];
ptt::CapturePipeline* pipeline = nullptr;

int put_text(const std::string& s) {
  if (s.size() >= kTextBuffer) return -static_cast<int>(proto::ErrorCode::too_large);
  std::memcpy(text_buffer, s.data(), s.size());
  return static_cast<int>(s.size());
}

std::string_view text(int offset, int len) {
  if (offset < 0 || len < 0 || offset + len > kTextBuffer) return {};
  return {text_buffer + offset, static_cast<std::size_t>(len)};
}

}  // namespace

extern "C" {

// ---- capture (AudioWorklet) ---------------------------------------------------------------------

EMSCRIPTEN_KEEPALIVE int ptt_capture_init(int agc_max_gain_db, int preroll_ms) {
  ptt::CaptureConfig c;
  c.agc_max_gain_db = std::clamp(agc_max_gain_db, 0, 30);
  c.preroll_ms = std::clamp(preroll_ms, 20, 2000);
  if (pipeline) pipeline->~CapturePipeline();
  pipeline = new (pipeline_storage) ptt::CapturePipeline(c);
  return pipeline->ok() ? 1 : 0;
}
EMSCRIPTEN_KEEPALIVE float* ptt_capture_input() { return input_buffer; }
// Processes n samples from the input buffer; capture_us: capture time of the first (sender clock).
EMSCRIPTEN_KEEPALIVE int ptt_capture_push(int n, double capture_us) {
  if (!pipeline || n < 0 || n > 1024) return 0;
  pipeline->push(input_buffer, static_cast<std::size_t>(n), static_cast<std::uint64_t>(capture_us));
  return static_cast<int>(pipeline->ready_count());
}
EMSCRIPTEN_KEEPALIVE void ptt_capture_press() { if (pipeline) pipeline->press(); }
EMSCRIPTEN_KEEPALIVE void ptt_capture_grant(std::uint32_t talk_id) { if (pipeline) pipeline->grant(talk_id); }
EMSCRIPTEN_KEEPALIVE void ptt_capture_release() { if (pipeline) pipeline->release(); }
EMSCRIPTEN_KEEPALIVE int ptt_capture_ready() { return pipeline ? static_cast<int>(pipeline->ready_count()) : 0; }
EMSCRIPTEN_KEEPALIVE const std::uint8_t* ptt_capture_packet(int i) { return pipeline->ready_data(static_cast<std::size_t>(i)); }
EMSCRIPTEN_KEEPALIVE int ptt_capture_packet_size(int i) { return static_cast<int>(pipeline->ready_size(static_cast<std::size_t>(i))); }
EMSCRIPTEN_KEEPALIVE void ptt_capture_clear() { if (pipeline) pipeline->clear_ready(); }
EMSCRIPTEN_KEEPALIVE float ptt_capture_level() { return pipeline ? pipeline->level() : 0.0f; }
EMSCRIPTEN_KEEPALIVE int ptt_capture_speech() { return pipeline && pipeline->speech() ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE int ptt_capture_silence_ms() { return pipeline ? static_cast<int>(pipeline->silence_ms()) : 0; }
EMSCRIPTEN_KEEPALIVE int ptt_capture_state() { return pipeline ? static_cast<int>(pipeline->state()) : 0; }

// ---- control protocol (main thread) -------------------------------------------------------------

EMSCRIPTEN_KEEPALIVE char* ptt_text_buffer() { return text_buffer; }
EMSCRIPTEN_KEEPALIVE int ptt_text_buffer_size() { return kTextBuffer; }

// Normalises the name at [0, len) by the shared name rules; returns its new length, or -bad_name.
EMSCRIPTEN_KEEPALIVE int ptt_normalise_name(int len) {
  auto name = proto::normalise_display_name(text(0, len));
  return name ? put_text(*name) : -static_cast<int>(proto::ErrorCode::bad_name);
}
// Name at [0, name_len), room code right after it. Returns the JSON's length, or -code.
EMSCRIPTEN_KEEPALIVE int ptt_encode_join(int name_len, int room_len) {
  auto name = proto::normalise_display_name(text(0, name_len));
  if (!name) return -static_cast<int>(proto::ErrorCode::bad_name);
  const auto room = text(name_len, room_len);
  if (room.size() > proto::kMaxRoomCodeBytes) return -static_cast<int>(proto::ErrorCode::bad_room_code);
  return put_text(proto::encode_control(proto::Join{*name, std::string(room)}));
}
EMSCRIPTEN_KEEPALIVE int ptt_encode_floor_request() { return put_text(proto::encode_control(proto::FloorRequest{})); }
EMSCRIPTEN_KEEPALIVE int ptt_encode_floor_release(std::uint32_t talk_id) {
  return put_text(proto::encode_control(proto::FloorRelease{talk_id}));
}
EMSCRIPTEN_KEEPALIVE int ptt_encode_ping(double t0) {
  return put_text(proto::encode_control(proto::Ping{static_cast<std::uint64_t>(t0)}));
}
EMSCRIPTEN_KEEPALIVE int ptt_encode_pong(double t0, double t1, double t2) {
  return put_text(proto::encode_control(
      proto::Pong{static_cast<std::uint64_t>(t0), static_cast<std::uint64_t>(t1), static_cast<std::uint64_t>(t2)}));
}
// Validates the server message at [0, len). On success the buffer holds its canonical JSON and the
// length is returned; on failure -code (and ptt_error_name(code) says which).
EMSCRIPTEN_KEEPALIVE int ptt_decode(int len) {
  proto::ControlMessage msg;
  const auto code = proto::decode_control(text(0, len), msg);
  if (code != proto::ErrorCode::ok) return -static_cast<int>(code);
  return put_text(proto::encode_control(msg));
}
EMSCRIPTEN_KEEPALIVE int ptt_error_name(int code) {
  return put_text(std::string(proto::to_string(static_cast<proto::ErrorCode>(std::clamp(code, 0, 255)))));
}

}  // extern "C"
