// The AudioWorklet's module (ptt_capture.wasm): the capture pipeline of shared/ (speexdsp noise
// suppression and gain, voice activity, Opus, audio framing) behind a C entry layer. No control
// protocol, no JSON: the page's module (page_module.cpp) has those. Samples and packets pass through
// fixed buffers in this module's memory; nothing here allocates after ptt_capture_init or throws.
#include <emscripten/emscripten.h>

#include <algorithm>
#include <cstdint>
#include <new>

#include "ptt/capture_pipeline.hpp"

namespace {

float input_buffer[1024];
alignas(ptt::CapturePipeline) unsigned char pipeline_storage[sizeof(ptt::CapturePipeline)];
ptt::CapturePipeline* pipeline = nullptr;

}  // namespace

extern "C" {

// packet_ms: 10 (the least delay) or 20 (half the packets, for a poor link); anything else is 20.
EMSCRIPTEN_KEEPALIVE int ptt_capture_init(int agc_max_gain_db, int preroll_ms, int packet_ms) {
  ptt::CaptureConfig c;
  c.agc_max_gain_db = std::clamp(agc_max_gain_db, 0, 30);
  c.preroll_ms = std::clamp(preroll_ms, 20, 2000);
  c.encoder.frame_ms = packet_ms == 10 ? 10 : 20;
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
EMSCRIPTEN_KEEPALIVE void ptt_capture_hold_gain() { if (pipeline) pipeline->hold_gain(); }
EMSCRIPTEN_KEEPALIVE int ptt_capture_ready() { return pipeline ? static_cast<int>(pipeline->ready_count()) : 0; }
EMSCRIPTEN_KEEPALIVE const std::uint8_t* ptt_capture_packet(int i) { return pipeline->ready_data(static_cast<std::size_t>(i)); }
EMSCRIPTEN_KEEPALIVE int ptt_capture_packet_size(int i) { return static_cast<int>(pipeline->ready_size(static_cast<std::size_t>(i))); }
EMSCRIPTEN_KEEPALIVE void ptt_capture_clear() { if (pipeline) pipeline->clear_ready(); }
EMSCRIPTEN_KEEPALIVE float ptt_capture_level() { return pipeline ? pipeline->level() : 0.0f; }
EMSCRIPTEN_KEEPALIVE int ptt_capture_speech() { return pipeline && pipeline->speech() ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE int ptt_capture_silence_ms() { return pipeline ? static_cast<int>(pipeline->silence_ms()) : 0; }
EMSCRIPTEN_KEEPALIVE int ptt_capture_state() { return pipeline ? static_cast<int>(pipeline->state()) : 0; }

}  // extern "C"
