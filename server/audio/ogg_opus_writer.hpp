// Writes Opus packets, as received, into an Ogg Opus file (RFC 7845) without re-encoding.
// A page is flushed every half second, so a crash loses less than the last second; the file is
// playable (opusinfo, opusdec, libopusfile) even without its final page.
#pragma once

#include <sys/types.h>

#include <ogg/ogg.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ptt::server {

struct OggOpusInfo {
  std::uint16_t pre_skip = 312;  // the sender's encoder look-ahead (libopus VOIP at 48 kHz)
  std::vector<std::string> comments;  // "TITLE=...", "DATE=..."
};

class OggOpusWriter {
 public:
  // Takes ownership of fd (an open, empty file). Check ok() / error().
  OggOpusWriter(int fd, const OggOpusInfo& info, std::uint32_t serial);
  ~OggOpusWriter();
  OggOpusWriter(const OggOpusWriter&) = delete;
  OggOpusWriter& operator=(const OggOpusWriter&) = delete;

  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }
  // Appends one packet lasting `samples` (48 kHz). Returns false once a write has failed.
  bool write(const std::uint8_t* packet, std::size_t size, std::uint32_t samples);
  // Writes the end-of-stream page and closes the file.
  bool finish();
  std::uint64_t samples_written() const noexcept { return granule_; }

 private:
  bool write_pages(bool flush);

  int fd_;
  std::uint16_t pre_skip_;
  off_t complete_bytes_ = 0;  // bytes of whole pages written
  ogg_stream_state stream_{};
  std::int64_t packet_no_ = 0;
  std::uint64_t granule_ = 0;
  std::uint64_t unflushed_samples_ = 0;
  std::vector<std::uint8_t> pending_;  // the last packet: held back so the final one can carry e_o_s
  std::uint32_t pending_samples_ = 0;
  bool has_pending_ = false, finished_ = false;
  std::string error_;
};

}  // namespace ptt::server
