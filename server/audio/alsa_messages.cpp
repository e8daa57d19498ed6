#include "alsa_messages.hpp"

#include <alsa/asoundlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace ptt::server {
namespace {
std::atomic<std::uint64_t> underruns{0};
}  // namespace

void on_alsa_message(const char* file, int line, const char* function, int err, const char* fmt, ...) {
  char message[400] = "";
  if (fmt != nullptr) {
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
  }
  // snd_pcm_recover's SNDERR("%s occurred", "underrun").
  if (function != nullptr && std::strcmp(function, "snd_pcm_recover") == 0 && std::strstr(message, "underrun") != nullptr) {
    underruns.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // As ALSA's default handler prints it, in one write from a stack buffer.
  char text[512];
  const int n = err != 0 ? std::snprintf(text, sizeof text, "ALSA lib %s:%i:(%s) %s: %s", file ? file : "?", line,
                                         function ? function : "?", message, snd_strerror(err))
                         : std::snprintf(text, sizeof text, "ALSA lib %s:%i:(%s) %s", file ? file : "?", line,
                                         function ? function : "?", message);
  if (n < 0) return;
  std::size_t length = std::min(static_cast<std::size_t>(n), sizeof text - 2);
  text[length++] = '\n';
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, text, length);
}

void install_alsa_message_handler() { snd_lib_error_set_handler(&on_alsa_message); }

std::uint64_t alsa_underruns_recovered() { return underruns.load(std::memory_order_relaxed); }

}  // namespace ptt::server
