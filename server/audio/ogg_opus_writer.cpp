#include "ogg_opus_writer.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ptt/audio_format.hpp"

namespace ptt::server {
namespace {

void put_le16(std::vector<std::uint8_t>& v, std::uint16_t x) {
  v.push_back(static_cast<std::uint8_t>(x));
  v.push_back(static_cast<std::uint8_t>(x >> 8));
}
void put_le32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}
void put_string(std::vector<std::uint8_t>& v, const std::string& s) {
  put_le32(v, static_cast<std::uint32_t>(s.size()));
  v.insert(v.end(), s.begin(), s.end());
}

// Samples per forced page: with the recorder's 200 ms reorder window a crash loses under a second.
constexpr std::uint32_t kFlushEvery = 500 * audio_format::kSamplesPerMs;

}  // namespace

OggOpusWriter::OggOpusWriter(int fd, const OggOpusInfo& info, std::uint32_t serial) : fd_(fd), pre_skip_(info.pre_skip) {
  ogg_stream_init(&stream_, static_cast<int>(serial));
  // RFC 7845 section 5.1: identification header, alone on the first page.
  std::vector<std::uint8_t> head = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 1};
  put_le16(head, info.pre_skip);
  put_le32(head, audio_format::kSampleRate);  // the input rate: ours, never resampled
  put_le16(head, 0);  // output gain
  head.push_back(0);  // channel mapping family 0: mono/stereo
  ogg_packet p{};
  p.packet = head.data();
  p.bytes = static_cast<long>(head.size());
  p.b_o_s = 1;
  p.packetno = packet_no_++;
  ogg_stream_packetin(&stream_, &p);
  if (!write_pages(true)) return;
  // Section 5.2: comment header, on its own page(s).
  std::vector<std::uint8_t> tags = {'O', 'p', 'u', 's', 'T', 'a', 'g', 's'};
  put_string(tags, "ptt-server (Opus packets as sent by the student's browser)");
  put_le32(tags, static_cast<std::uint32_t>(info.comments.size()));
  for (const auto& c : info.comments) put_string(tags, c);
  p = {};
  p.packet = tags.data();
  p.bytes = static_cast<long>(tags.size());
  p.packetno = packet_no_++;
  ogg_stream_packetin(&stream_, &p);
  write_pages(true);
}

OggOpusWriter::~OggOpusWriter() {
  if (!finished_) finish();
  ogg_stream_clear(&stream_);
}

bool OggOpusWriter::write(const std::uint8_t* packet, std::size_t size, std::uint32_t samples) {
  if (!ok() || finished_) return false;
  if (has_pending_) {
    ogg_packet p{};
    p.packet = pending_.data();
    p.bytes = static_cast<long>(pending_.size());
    p.granulepos = static_cast<ogg_int64_t>(granule_ += pending_samples_);
    p.packetno = packet_no_++;
    ogg_stream_packetin(&stream_, &p);
    unflushed_samples_ += pending_samples_;
    const bool flush = unflushed_samples_ >= kFlushEvery;
    if (flush) unflushed_samples_ = 0;
    if (!write_pages(flush)) return false;
  }
  pending_.assign(packet, packet + size);
  pending_samples_ = samples;
  has_pending_ = true;
  return true;
}

bool OggOpusWriter::finish() {
  if (finished_) return ok();
  static const std::uint8_t silence_toc[] = {0xF8};  // CELT 20 ms, no frame data: decodes as silence
  // A stream that ends before its pre-skip does not play at all (a talk of a few milliseconds):
  // concealment carries it past.
  while (has_pending_ && granule_ + pending_samples_ <= pre_skip_ && write(silence_toc, 1, audio_format::kFrameSamples)) {
  }
  finished_ = true;
  if (ok()) {
    // The last packet carries e_o_s; a talk without audio still ends its stream properly.
    const std::uint8_t* data = has_pending_ ? pending_.data() : silence_toc;
    ogg_packet p{};
    p.packet = const_cast<std::uint8_t*>(data);
    p.bytes = has_pending_ ? static_cast<long>(pending_.size()) : 1;
    p.granulepos = static_cast<ogg_int64_t>(granule_ += has_pending_ ? pending_samples_ : audio_format::kFrameSamples);
    p.packetno = packet_no_++;
    p.e_o_s = 1;
    ogg_stream_packetin(&stream_, &p);
    write_pages(true);
  }
  if (fd_ >= 0) {
    if (::close(fd_) != 0 && ok()) error_ = std::string("close failed: ") + std::strerror(errno);
    fd_ = -1;
  }
  return ok();
}

bool OggOpusWriter::write_pages(bool flush) {
  ogg_page page;
  while (flush ? ogg_stream_flush(&stream_, &page) : ogg_stream_pageout(&stream_, &page)) {
    for (auto [data, len] : {std::pair{page.header, page.header_len}, std::pair{page.body, page.body_len}}) {
      while (len > 0) {
        const ssize_t n = ::write(fd_, data, static_cast<std::size_t>(len));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          error_ = std::string("write failed: ") + std::strerror(errno);
          // Cut the partial page (disk full mid-page): the file stays a valid stream of whole pages.
          if (::ftruncate(fd_, complete_bytes_) != 0) error_ += "; the last page is incomplete";
          return false;
        }
        data += n;
        len -= n;
      }
    }
    complete_bytes_ += page.header_len + page.body_len;
  }
  return true;
}

}  // namespace ptt::server
