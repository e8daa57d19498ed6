// The Smart Push-to-Talk wire protocol (docs/PROTOCOL.md is the normative text).
//
// Control messages travel as JSON in WebSocket text frames; audio travels as a fixed 20-byte header
// followed by one Opus packet in WebSocket binary frames. This is the only implementation of the
// format: the server links it natively and the browser client links it compiled to WebAssembly.
// The code is split by job: src/protocol_audio.cpp (audio frames), src/protocol_control.cpp
// (control messages, error names), src/protocol_clock.cpp (clock sync).
// Nothing here throws: every decoder returns an ErrorCode and leaves its output untouched on error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "ptt/audio_format.hpp"
#include "ptt/text.hpp"

namespace ptt::protocol {

inline constexpr std::uint8_t kVersion = 1;

// Limits (bytes unless stated).
inline constexpr std::size_t kAudioHeaderSize = 20;
inline constexpr std::size_t kMaxOpusPacket = audio_format::kMaxOpusPacket;
inline constexpr std::size_t kMaxAudioFrame = kAudioHeaderSize + kMaxOpusPacket;
inline constexpr std::size_t kMaxControlMessage = 1024;
using text::kMaxNameCodePoints;  // 32, after normalisation (text.hpp)
inline constexpr std::size_t kMaxNameBytes = 4 * kMaxNameCodePoints;  // a join's `name` on the wire
inline constexpr std::size_t kMaxRoomCodeBytes = 32;
inline constexpr std::size_t kMaxErrorMessageBytes = 256;
inline constexpr std::uint32_t kSampleRate = audio_format::kSampleRate;
inline constexpr std::uint32_t kMaxPacketSamples = audio_format::kMaxPacketSamples;  // 60 ms
// Largest integer a JavaScript number holds exactly; every integer field is bounded by it.
inline constexpr std::uint64_t kMaxJsonInteger = (std::uint64_t{1} << 53) - 1;

enum class ErrorCode : std::uint8_t {
  ok = 0,
  // decoding
  truncated,          // fewer bytes than the header or a field needs
  too_large,          // over the frame's size limit
  bad_version,        // audio header version is not kVersion
  bad_flags,          // reserved flag bits set
  bad_opus,           // payload is not one valid mono Opus packet of at most 60 ms
  malformed_json,     // text frame is not a JSON object
  bad_utf8,           // text is not valid UTF-8
  unknown_type,       // "type" names no message of this version
  missing_field,      // a required field is absent
  bad_field,          // a field has the wrong type or is out of range
  // session rules (sent by the server in an error message)
  not_joined,         // anything but join/ping/pong before join
  already_joined,     // a second join
  bad_name,           // display name empty or against the name rules
  bad_room_code,      // room code missing or wrong
  rate_limited,       // too many messages or floor requests
  server_full,        // connection limit reached
  not_holder,         // release or audio from a client that does not hold the floor
  stale_talk,         // talk id does not match the current talk
  removed,            // the professor removed this student; a join is refused for a while
  internal,           // the server failed; not the client's fault
};

std::string_view to_string(ErrorCode code) noexcept;
std::optional<ErrorCode> error_code_from_string(std::string_view s) noexcept;

// ---------------------------------------------------------------------------------------------
// Audio frames (binary)
// ---------------------------------------------------------------------------------------------

namespace audio_flags {
inline constexpr std::uint8_t kTalkStart = 0x01;  // first packet of a talk
inline constexpr std::uint8_t kSpeech = 0x02;     // the sender's VAD judged this packet speech
inline constexpr std::uint8_t kKnown = kTalkStart | kSpeech;
}  // namespace audio_flags

struct AudioHeader {
  std::uint8_t version = kVersion;
  std::uint8_t flags = 0;
  std::uint16_t sequence = 0;       // +1 per packet, wraps
  std::uint32_t talk_id = 0;        // from floor_granted
  std::uint32_t timestamp = 0;      // first sample of the packet, 48 kHz samples since talk start, wraps
  std::uint64_t capture_time_us = 0;  // sender's clock (the one its pings carry) at capture of sample 0
};

struct AudioFrameView {
  AudioHeader header;
  const std::uint8_t* opus = nullptr;  // points into the decoded buffer
  std::size_t opus_size = 0;
  std::uint32_t samples = 0;           // duration of the Opus packet in 48 kHz samples
};

// Writes header + payload into out (capacity out_capacity). Returns the frame size, or 0 if the
// payload is empty/too large or out is too small.
std::size_t encode_audio_frame(const AudioHeader& header, const std::uint8_t* opus, std::size_t opus_size,
                               std::uint8_t* out, std::size_t out_capacity) noexcept;

// Validates every field, including the Opus packet structure; fills out only on success.
ErrorCode decode_audio_frame(const std::uint8_t* data, std::size_t size, AudioFrameView& out) noexcept;

// Duration in 48 kHz samples of a valid mono Opus packet, or 0 if it is not one.
std::uint32_t opus_packet_samples(const std::uint8_t* data, std::size_t size) noexcept;

// ---------------------------------------------------------------------------------------------
// Control messages (JSON text)
// ---------------------------------------------------------------------------------------------

enum class DenyReason : std::uint8_t { busy, queued, rate_limited, not_joined };
enum class RevokeReason : std::uint8_t { max_time, unresponsive, silence, admin };

struct FloorState {
  bool taken = false;
  std::uint32_t holder_id = 0;   // 0 when free
  std::string holder;            // display name, empty when free
  std::uint32_t talk_id = 0;     // 0 when free
  std::uint32_t queue_length = 0;
  // Whether a refused request waits in line (queue or moderated mode): the professor may change the
  // mode at any time, and a change is broadcast as a floor_state. Optional on the wire (false).
  bool queue_mode = false;
};

// client -> server
struct Join {
  std::string name;
  std::string room;  // room code; empty when none
};
struct FloorRequest {};
struct FloorRelease {
  std::uint32_t talk_id = 0;  // 0 leaves the queue / cancels a pending request
};

// server -> client
struct Welcome {
  std::uint32_t client_id = 0;
  std::string name;              // the name the server uses (made unique, e.g. "Ana (2)")
  std::uint32_t max_talk_ms = 0;
  bool queue_mode = false;
  FloorState floor;
};
struct FloorGranted {
  std::uint32_t talk_id = 0;
  std::uint32_t max_talk_ms = 0;
};
struct FloorDenied {
  DenyReason reason = DenyReason::busy;
  std::string holder;            // name of the current holder (busy/queued)
  std::uint32_t position = 0;    // 1-based place in the queue (queued), else 0
  // Queued, first in line, in moderated mode with auto-approve on and the floor free: the floor
  // comes in this long unless the professor acts first. 0: no countdown.
  std::uint32_t grant_in_ms = 0;
};
struct FloorRevoked {
  std::uint32_t talk_id = 0;
  RevokeReason reason = RevokeReason::max_time;
};
// The talker's microphone hears the professor's speakers (docs/AUDIO.md, "Feedback"): the page
// asks the student to step back or lower the phone. coupling_db: the room's coupling from the
// speakers into this microphone; lowered: the server turned the playback down against it.
struct Feedback {
  std::uint32_t talk_id = 0;
  std::int32_t coupling_db = 0;  // -99 to 40
  bool lowered = false;
};
struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
};

// either direction: clock-offset estimation and liveness, NTP style
struct Ping {
  std::uint64_t t0 = 0;  // sender's clock, microseconds
};
struct Pong {
  std::uint64_t t0 = 0;  // copied from the ping
  std::uint64_t t1 = 0;  // answerer's clock when the ping arrived
  std::uint64_t t2 = 0;  // answerer's clock when the pong left
};

using ControlMessage = std::variant<Join, FloorRequest, FloorRelease, Welcome, FloorGranted, FloorDenied,
                                    FloorRevoked, FloorState, Error, Ping, Pong, Feedback>;

std::string_view type_name(const ControlMessage& msg) noexcept;
std::string_view to_string(DenyReason r) noexcept;
std::string_view to_string(RevokeReason r) noexcept;

// Serialises to compact JSON. Strings are escaped by the JSON library; names are not re-validated here.
std::string encode_control(const ControlMessage& msg);

// Parses and validates one text frame. On failure returns the code and, if detail is given, a short
// human-readable explanation naming the field. Besides the decoding codes, a join whose `room` is
// over kMaxRoomCodeBytes is refused as bad_room_code and one whose `name` is over kMaxNameBytes as
// bad_name (the codes the server answers any bad room code or name with).
ErrorCode decode_control(std::string_view text, ControlMessage& out, std::string* detail = nullptr) noexcept;

// UTF-8 validation and the display-name rules live in ptt/text.hpp (ptt::text); named here too.
using text::is_valid_utf8;
using text::normalise_display_name;

// Clock offset of a peer from one ping/pong exchange, t3 being our clock when the pong arrived:
// offset = ((t1 - t0) + (t2 - t3)) / 2 (peer minus us), delay = (t3 - t0) - (t2 - t1).
struct ClockSample {
  std::int64_t offset_us = 0;
  std::int64_t round_trip_us = 0;
};
ClockSample clock_sample(const Pong& pong, std::uint64_t t3) noexcept;

}  // namespace ptt::protocol
