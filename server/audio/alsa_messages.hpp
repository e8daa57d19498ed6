// ALSA's own messages, which it prints to stderr from inside its calls: "underrun occurred" comes
// from the audio thread each time the device runs dry, and would fill the professor's terminal on
// a busy laptop. Those are counted (Playback summarises them); any other message is printed as
// ALSA prints it.
#pragma once

#include <cstdint>

namespace ptt::server {

// Installs the handler (idempotent; before PortAudio opens an ALSA device).
void install_alsa_message_handler();

// Underruns ALSA recovered from (and would have printed) since the process started.
std::uint64_t alsa_underruns_recovered();

// The handler itself, as ALSA calls it (tests): never locks or allocates, as it runs on the audio thread.
void on_alsa_message(const char* file, int line, const char* function, int err, const char* fmt, ...);

}  // namespace ptt::server
