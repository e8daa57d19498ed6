// Recordings: hostile names stay inside the folder; files written from packets as received are
// valid Ogg Opus (opened and decoded by libopusfile here) with the talk's timeline.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <opusfile.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "../shared/signals.hpp"
#include "ogg_opus_writer.hpp"
#include "ptt/codec.hpp"
#include "recorder.hpp"
#include "recording_names.hpp"

using namespace ptt::server;
namespace fs = std::filesystem;
namespace t = ptt::test;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) : path(fs::temp_directory_path() / ("ptt-rec-" + tag + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

struct Decoded {
  std::vector<float> pcm;
  std::string title;
  bool ok = false;
};

Decoded decode_file(const fs::path& path) {
  Decoded d;
  int error = 0;
  OggOpusFile* f = op_open_file(path.c_str(), &error);
  if (!f) return d;
  if (const OpusTags* tags = op_tags(f, -1)) {
    if (const char* title = opus_tags_query(tags, "TITLE", 0)) d.title = title;
  }
  std::vector<float> buf(5760);
  int n;
  while ((n = op_read_float(f, buf.data(), static_cast<int>(buf.size()), nullptr)) > 0) d.pcm.insert(d.pcm.end(), buf.begin(), buf.begin() + n);
  d.ok = n == 0;
  op_free(f);
  return d;
}

struct Packets {
  std::vector<std::vector<std::uint8_t>> data;
  std::vector<float> input;
  int lookahead = 0;
};

Packets encode_speech(std::size_t max_packets = 100000) {
  Packets p;
  p.input = t::speech();
  ptt::codec::Encoder enc;
  p.lookahead = enc.lookahead();
  std::vector<std::uint8_t> buf(1275);
  for (std::size_t off = 0; off + 960 <= p.input.size() && p.data.size() < max_packets; off += 960) {
    const int n = enc.encode(p.input.data() + off, buf.data(), buf.size());
    p.data.emplace_back(buf.begin(), buf.begin() + n);
  }
  p.input.resize(p.data.size() * 960);
  return p;
}

Recorder::Log log_to(std::vector<std::string>& sink) {
  return [&sink](bool error, const std::string& m) {
    if (error) sink.push_back(m);
  };
}

}  // namespace

TEST(RecordingNames, HostileNamesBecomeSafeFilesInsideTheFolder) {
  TempDir dir("names");
  const std::vector<std::string> hostile = {
      "../../etc/passwd", std::string("A\0B", 3), std::string(10000, 'x'), "....", ". . .", "🎤 Zoë",
      "CON", "nul.txt", "com1", "Lpt9", "a/b\\c:d*e?f\"g<h>i|j", "\x01\x02tab\t", "\xff\xfe bad utf8", "", "..",
      "/absolute", "C:\\Windows\\system32"};
  for (const auto& name : hostile) {
    const std::string stem = safe_file_stem(name);
    ASSERT_FALSE(stem.empty());
    EXPECT_LE(stem.size(), kMaxFileStemBytes);
    EXPECT_EQ(stem.find_first_of("/\\:*?\"<>|"), std::string::npos) << stem;
    EXPECT_TRUE(std::none_of(stem.begin(), stem.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
    EXPECT_NE(stem.front(), '.');
    EXPECT_NE(stem.back(), '.');
    int fd = -1;
    std::string error;
    const auto path = create_recording_file(dir.path, stem, fd, error);
    ASSERT_GE(fd, 0) << error;
    ::close(fd);
    EXPECT_EQ(path.parent_path(), fs::canonical(dir.path)) << name;
    EXPECT_TRUE(fs::exists(path));
  }
  EXPECT_EQ(safe_file_stem("🎤 Zoë"), "🎤 Zoë");  // Unicode kept
  EXPECT_EQ(safe_file_stem("...."), "student");
  EXPECT_EQ(safe_file_stem("CON"), "_CON");
  EXPECT_EQ(safe_file_stem("nul.txt"), "_nul.txt");
  EXPECT_EQ(safe_file_stem(std::string("A\0B", 3)), "A_B");
  EXPECT_EQ(safe_file_stem("Ana"), "Ana");
  // Cut on a character boundary: 30 two-byte letters are 60 bytes, the 33rd would pass 64.
  std::string long_umlauts;
  for (int i = 0; i < 40; ++i) long_umlauts += "ö";
  EXPECT_EQ(safe_file_stem(long_umlauts).size(), 64u);
  // Found by fuzz_names: a space at the cut, followed by bytes that become '_', ended the stem in a
  // space; and a device-name prefix pushed a full-length stem to 65 bytes.
  EXPECT_EQ(safe_file_stem(std::string(63, 'x') + " \xff"), std::string(63, 'x'));
  const std::string con = safe_file_stem("con." + std::string(60, 'y') + "\xc3\xb6");
  EXPECT_EQ(con, "_con." + std::string(59, 'y'));
}

TEST(RecordingNames, StemNeverStartsWithADashOrADot) {
  // A file named "-rf-1.opus" reads as options to `rm *`, `tar`, `ffmpeg`...; ".x" hides.
  EXPECT_EQ(safe_file_stem("-rf"), "rf");
  EXPECT_EQ(safe_file_stem("--help"), "help");
  EXPECT_EQ(safe_file_stem("-"), "student");
  EXPECT_EQ(safe_file_stem(".bashrc"), "bashrc");
  EXPECT_EQ(safe_file_stem("-. -.x"), "x");
  EXPECT_EQ(safe_file_stem("\u00A0-\u3000.x"), "x");      // space-like characters count as spaces
  EXPECT_EQ(safe_file_stem("\u200B-\u202E-x"), "x");      // and so do removed invisible ones
  EXPECT_EQ(safe_file_stem("Ana-Maria"), "Ana-Maria");   // only a leading dash goes
  // A name of 100 dashes then "Ana" keeps "Ana": the leading ones go before the cut to 64 bytes.
  EXPECT_EQ(safe_file_stem(std::string(100, '-') + "Ana"), "Ana");
  EXPECT_EQ(safe_file_stem("-" + std::string(70, 'x')), std::string(64, 'x'));
  // The device-name prefix path keeps the first byte '_'.
  EXPECT_EQ(safe_file_stem("-CON"), "_CON");
  EXPECT_EQ(safe_file_stem("-.nul.txt"), "_nul.txt");
  EXPECT_EQ(safe_file_stem("-con." + std::string(70, 'y')), "_con." + std::string(59, 'y'));
}

TEST(RecordingNames, InvisibleCharactersAreDroppedFromStems) {
  const std::string rlo = "\u202E";
  const std::string stem = safe_file_stem("Ana" + rlo + "gnp.exe");
  EXPECT_EQ(stem, "Anagnp.exe");
  EXPECT_EQ(stem.find(rlo), std::string::npos);
  EXPECT_EQ(safe_file_stem("\u2066" "Ana\u2069"), "Ana");
  EXPECT_EQ(safe_file_stem("A\u200B" "na\u200D\uFEFF"), "Ana");  // the same file series as "Ana"
  EXPECT_EQ(safe_file_stem("Ana\U000E0041\uFE0F"), "Ana");
  EXPECT_EQ(safe_file_stem("Ana\u00A0"), "Ana");  // a trailing no-break space is trimmed like a space
  EXPECT_EQ(safe_file_stem("C\u200BON"), "_CON");  // a device name cannot hide behind a zero-width space
  EXPECT_EQ(safe_file_stem("A\u2028" "B"), "A_B");  // a line break is replaced like a control
  EXPECT_EQ(safe_file_stem("\u202E\u200B\u2066"), "student");
}

TEST(RecordingNames, SerialsContinueFromFilesAlreadyThere) {
  TempDir dir("serial");
  EXPECT_EQ(next_serial(dir.path, "Ana"), 1u);
  std::ofstream(dir.path / "Ana-1.opus");
  std::ofstream(dir.path / "Ana-7.opus");
  std::ofstream(dir.path / "Ana-x.opus");
  std::ofstream(dir.path / "Anabel-20.opus");
  EXPECT_EQ(next_serial(dir.path, "Ana"), 8u);
  EXPECT_EQ(next_serial(dir.path, "Ben"), 1u);
  int fd;
  std::string error;
  EXPECT_EQ(create_recording_file(dir.path, "Ana", fd, error).filename(), "Ana-8.opus");
  ::close(fd);
}

TEST(OggOpusWriter, FileOpensAndDecodesWithLibopusfile) {
  TempDir dir("ogg");
  const auto p = encode_speech();
  const auto path = dir.path / "talk.opus";
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0640);
    OggOpusWriter w(fd, OggOpusInfo{static_cast<std::uint16_t>(p.lookahead), {"TITLE=Ana"}}, 1);
    for (const auto& pkt : p.data) ASSERT_TRUE(w.write(pkt.data(), pkt.size(), 960));
    ASSERT_TRUE(w.finish());
  }
  const auto d = decode_file(path);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.title, "Ana");
  // Pre-skip removes the encoder delay: the file lines up with the input sample for sample.
  EXPECT_EQ(d.pcm.size(), p.data.size() * 960 - p.lookahead);
  EXPECT_GT(t::correlation(p.input, d.pcm, 0), 0.85);
}

TEST(OggOpusWriter, AFullDiskIsAClearError) {
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);  // every write: ENOSPC
  ASSERT_GE(fd, 0);
  OggOpusWriter w(fd, OggOpusInfo{312, {}}, 1);
  EXPECT_FALSE(w.ok());
  EXPECT_NE(w.error().find("No space left on device"), std::string::npos) << w.error();
  const std::uint8_t packet[] = {0xF8};
  EXPECT_FALSE(w.write(packet, 1, 960));
  EXPECT_FALSE(w.finish());
}

TEST(Recorder, ReorderedPacketsWithAGapMakeAFileWithTheTalksTimeline) {
  TempDir dir("talk");
  std::vector<std::string> errs;
  const auto p = encode_speech();
  {
    Recorder rec(dir.path, log_to(errs));
    rec.talk_started(5, "Zoë Ünal", std::chrono::system_clock::now());
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < p.data.size(); ++i)
      if (i < 50 || i >= 60) order.push_back(i);  // 200 ms never sent (silence) or lost
    for (std::size_t i = 0; i + 1 < order.size(); i += 4) std::swap(order[i], order[i + 1]);  // reordered
    for (auto i : order) rec.packet(5, static_cast<std::uint32_t>(i * 960), p.data[i].data(), p.data[i].size(), 960);
    rec.talk_ended(5);
    rec.flush();
  }
  EXPECT_TRUE(errs.empty());
  const auto path = dir.path / "Zoë Ünal-1.opus";
  ASSERT_TRUE(fs::exists(path));
  const auto d = decode_file(path);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.title, "Zoë Ünal");
  EXPECT_EQ(d.pcm.size(), p.data.size() * 960 - 312);  // the gap is kept as time, not dropped
  // Outside the gap the recording is the speech.
  std::vector<float> a(p.input.begin(), p.input.begin() + 45 * 960), b(d.pcm.begin(), d.pcm.begin() + 45 * 960);
  EXPECT_GT(t::correlation(a, b, 0), 0.85);
}

TEST(Recorder, AnUnfinishedFileIsReadableUpToItsLastFlushedSecond) {
  TempDir dir("crash");
  std::vector<std::string> errs;
  const auto p = encode_speech(150);  // 3 s
  Recorder rec(dir.path, log_to(errs));
  rec.talk_started(1, "Ana", std::chrono::system_clock::now());
  for (std::size_t i = 0; i < p.data.size(); ++i) rec.packet(1, static_cast<std::uint32_t>(i * 960), p.data[i].data(), p.data[i].size(), 960);
  rec.flush();
  // The talk is still open (no end-of-stream page): copy the file as a crash would leave it.
  const auto copy = dir.path / "copy.opus";
  fs::copy_file(dir.path / "Ana-1.opus", copy);
  const auto d = decode_file(copy);
  ASSERT_TRUE(d.ok);
  EXPECT_GE(d.pcm.size(), (p.data.size() - 50) * 960 - 312);  // all but at most the last second
  rec.talk_ended(1);
}

TEST(Recorder, SerialContinuesAfterARestart) {
  TempDir dir("restart");
  std::vector<std::string> errs;
  const std::uint8_t pkt[] = {0x48, 1, 2, 3};
  for (int run = 0; run < 2; ++run) {
    Recorder rec(dir.path, log_to(errs));
    rec.talk_started(1, "Ana", std::chrono::system_clock::now());
    rec.packet(1, 0, pkt, sizeof pkt, 960);
    rec.talk_ended(1);
    rec.flush();
  }
  EXPECT_TRUE(fs::exists(dir.path / "Ana-1.opus"));
  EXPECT_TRUE(fs::exists(dir.path / "Ana-2.opus"));
  EXPECT_EQ(fs::status(dir.path / "Ana-1.opus").permissions(), fs::perms::owner_read | fs::perms::owner_write);
}

TEST(Recorder, AFolderItMakesIsOwnerOnly) {
  TempDir dir("mode");
  std::vector<std::string> errs;
  { Recorder rec(dir.path / "recordings", log_to(errs)); }
  EXPECT_EQ(fs::status(dir.path / "recordings").permissions(), fs::perms::owner_all);
}

TEST(Recorder, AFolderThatCannotBeCreatedIsAClearError) {
  TempDir dir("bad");
  std::ofstream(dir.path / "file") << "x";
  std::vector<std::string> errs;
  EXPECT_THROW(Recorder(dir.path / "file" / "sub", log_to(errs)), std::runtime_error);
}
