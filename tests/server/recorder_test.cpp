// Recordings: hostile names stay inside the folder; files written from packets as received are
// valid Ogg Opus (opened and decoded by libopusfile here) with the talk's timeline.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <opusfile.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <mutex>
#include <regex>

#include "audio_pipeline.hpp"
#include "ogg_opus_writer.hpp"
#include "ptt/audio_format.hpp"
#include "ptt/codec.hpp"
#include "recorder.hpp"
#include "recording_names.hpp"
#include "signals.hpp"

using namespace ptt::server;
namespace fs = std::filesystem;
namespace t = ptt::test;

namespace {

// Samples in one packet: every packet here is a 20 ms one, as the client sends.
constexpr std::uint32_t kFrame = ptt::audio_format::kFrameSamples;

// A packet as the room hands it on, with the fields the recorder reads.
AudioPacket opus_packet(std::uint32_t talk, std::uint32_t timestamp, const std::uint8_t* data, std::size_t size,
                        std::uint32_t samples) {
  AudioPacket p;
  p.header.talk_id = talk;
  p.header.timestamp = timestamp;
  p.samples = samples;
  p.size = static_cast<std::uint16_t>(size);
  std::copy_n(data, size, p.opus.begin());
  return p;
}

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
  std::vector<std::uint8_t> buf(ptt::audio_format::kMaxOpusPacket);
  for (std::size_t off = 0; off + kFrame <= p.input.size() && p.data.size() < max_packets; off += kFrame) {
    const int n = enc.encode(p.input.data() + off, buf.data(), buf.size());
    p.data.emplace_back(buf.begin(), buf.begin() + n);
  }
  p.input.resize(p.data.size() * kFrame);
  return p;
}

Recorder::Log log_to(std::vector<std::string>& sink) {
  return [&sink](bool error, const std::string& m) {
    if (error) sink.push_back(m);
  };
}

// Every line, errors or not (from the recorder's thread and the caller's: guarded).
struct Lines {
  std::mutex mutex;
  std::vector<std::string> all;
  Recorder::Log log() {
    return [this](bool, const std::string& m) {
      std::lock_guard lock(mutex);
      all.push_back(m);
    };
  }
  std::string starting(const std::string& prefix) {
    std::lock_guard lock(mutex);
    for (const auto& l : all)
      if (l.rfind(prefix, 0) == 0) return l;
    return {};
  }
};

// The length of a recording as its Ogg stream states it (libopusfile's op_pcm_total), in samples
// after the pre-skip; -1 if it is no valid Ogg Opus file.
long long pcm_total(const fs::path& path) {
  int error = 0;
  OggOpusFile* f = op_open_file(path.c_str(), &error);
  if (!f) return -1;
  const long long total = op_pcm_total(f, -1);
  op_free(f);
  return total;
}

// Hands a network frame to the pipeline as the room does (decoded, arriving at `arrival`).
void feed(AudioPipeline& pipe, std::uint32_t talk, std::uint16_t sequence, std::uint32_t timestamp,
          const std::vector<std::uint8_t>& opus, TimePoint arrival) {
  ptt::protocol::AudioHeader h;
  h.talk_id = talk;
  h.sequence = sequence;
  h.timestamp = timestamp;
  std::vector<std::uint8_t> bytes(ptt::protocol::kMaxAudioFrame);
  bytes.resize(ptt::protocol::encode_audio_frame(h, opus.data(), opus.size(), bytes.data(), bytes.size()));
  ptt::protocol::AudioFrameView frame;
  ASSERT_EQ(ptt::protocol::decode_audio_frame(bytes.data(), bytes.size(), frame), ptt::protocol::ErrorCode::ok);
  pipe.audio(audio_packet(frame, 1, arrival));
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

// index.csv names each file as it is on disk; a stem starting = + @ (or -) would be a formula to a
// spreadsheet, and the guard's ' would name another file ("'=1+1-1.opus" is a student's too).
TEST(RecordingNames, StemNeverStartsWithAFormulaSign) {
  EXPECT_EQ(safe_file_stem("=1+1"), "1+1");
  EXPECT_EQ(safe_file_stem("+SUM(A1)"), "SUM(A1)");
  EXPECT_EQ(safe_file_stem("@cmd"), "cmd");
  EXPECT_EQ(safe_file_stem("=-+@ x"), "x");
  EXPECT_EQ(safe_file_stem("'=1+1"), "'=1+1");  // already text to a spreadsheet
  EXPECT_EQ(safe_file_stem("a=b"), "a=b");      // only a leading sign goes
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
    for (const auto& pkt : p.data) ASSERT_TRUE(w.write(pkt.data(), pkt.size(), kFrame));
    ASSERT_TRUE(w.finish());
  }
  const auto d = decode_file(path);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.title, "Ana");
  // Pre-skip removes the encoder delay: the file lines up with the input sample for sample.
  EXPECT_EQ(d.pcm.size(), p.data.size() * kFrame - p.lookahead);
  EXPECT_GT(t::correlation(p.input, d.pcm, 0), 0.85);
}

TEST(OggOpusWriter, AFullDiskIsAClearError) {
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);  // every write: ENOSPC
  ASSERT_GE(fd, 0);
  OggOpusWriter w(fd, OggOpusInfo{312, {}}, 1);
  EXPECT_FALSE(w.ok());
  EXPECT_NE(w.error().find("No space left on device"), std::string::npos) << w.error();
  const std::uint8_t packet[] = {0xF8};
  EXPECT_FALSE(w.write(packet, 1, kFrame));
  EXPECT_FALSE(w.finish());
}

TEST(Recorder, ReorderedPacketsWithAGapMakeAFileWithTheTalksTimeline) {
  TempDir dir("talk");
  std::vector<std::string> errs;
  const auto p = encode_speech();
  {
    Recorder rec(dir.path, log_to(errs));
    rec.talk_started(5, "Zoë Ünal", wall_clock_us());
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < p.data.size(); ++i)
      if (i < 50 || i >= 60) order.push_back(i);  // 200 ms never sent (silence) or lost
    for (std::size_t i = 0; i + 1 < order.size(); i += 4) std::swap(order[i], order[i + 1]);  // reordered
    for (auto i : order) rec.packet(opus_packet(5, static_cast<std::uint32_t>(i * kFrame), p.data[i].data(), p.data[i].size(), kFrame));
    rec.talk_ended(5);
    rec.flush();
  }
  EXPECT_TRUE(errs.empty());
  const auto path = dir.path / "Zoë Ünal-1.opus";
  ASSERT_TRUE(fs::exists(path));
  const auto d = decode_file(path);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.title, "Zoë Ünal");
  EXPECT_EQ(d.pcm.size(), p.data.size() * kFrame - 312);  // the gap is kept as time, not dropped
  // Outside the gap the recording is the speech.
  std::vector<float> a(p.input.begin(), p.input.begin() + 45 * kFrame), b(d.pcm.begin(), d.pcm.begin() + 45 * kFrame);
  EXPECT_GT(t::correlation(a, b, 0), 0.85);
}

TEST(Recorder, AnUnfinishedFileIsReadableUpToItsLastFlushedSecond) {
  TempDir dir("crash");
  std::vector<std::string> errs;
  const auto p = encode_speech(150);  // 3 s
  Recorder rec(dir.path, log_to(errs));
  rec.talk_started(1, "Ana", wall_clock_us());
  for (std::size_t i = 0; i < p.data.size(); ++i) rec.packet(opus_packet(1, static_cast<std::uint32_t>(i * kFrame), p.data[i].data(), p.data[i].size(), kFrame));
  rec.flush();
  // The talk is still open (no end-of-stream page): copy the file as a crash would leave it.
  const auto copy = dir.path / "copy.opus";
  fs::copy_file(dir.path / "Ana-1.opus", copy);
  const auto d = decode_file(copy);
  ASSERT_TRUE(d.ok);
  EXPECT_GE(d.pcm.size(), (p.data.size() - 50) * kFrame - 312);  // all but at most the last second
  rec.talk_ended(1);
}

TEST(Recorder, SerialContinuesAfterARestart) {
  TempDir dir("restart");
  std::vector<std::string> errs;
  const std::uint8_t pkt[] = {0x48, 1, 2, 3};
  for (int run = 0; run < 2; ++run) {
    Recorder rec(dir.path, log_to(errs));
    rec.talk_started(1, "Ana", wall_clock_us());
    rec.packet(opus_packet(1, 0, pkt, sizeof pkt, kFrame));
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

// A grant without audio leaves no file: the file is made at the talk's first packet. The serials
// go on as before (the next talk with audio takes the one the empty talk did not use).
TEST(Recorder, AGrantWithoutAudioLeavesNoFile) {
  TempDir dir("empty");
  Lines lines;
  const std::uint8_t pkt[] = {0x48, 1, 2, 3};
  {
    Recorder rec(dir.path, lines.log());
    rec.talk_started(1, "Ana", wall_clock_us());
    rec.talk_ended(1);
    rec.flush();
    EXPECT_TRUE(fs::is_empty(dir.path));
    rec.talk_started(2, "Ana", wall_clock_us());
    rec.packet(opus_packet(2, 0, pkt, sizeof pkt, kFrame));
    rec.talk_ended(2);
    rec.flush();
  }
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir.path)) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"Ana-1.opus", "index.csv"}));  // the index lists the one file
  EXPECT_EQ(lines.starting("talk 1:"), "talk 1: no audio recorded, no file");
  EXPECT_EQ(pcm_total(dir.path / "Ana-1.opus"), kFrame - 312);
}

// A talk shorter than the encoder's look-ahead (a 2.5 ms packet) still leaves a file that plays:
// concealment pads it past the pre-skip, where it would otherwise end before its own start.
TEST(Recorder, ATalkOfAFewMillisecondsStillPlays) {
  TempDir dir("short");
  Lines lines;
  const std::uint8_t pkt[] = {0xE0, 0x00};  // CELT, 2.5 ms, code 0
  {
    Recorder rec(dir.path, lines.log());
    rec.talk_started(1, "Ana", wall_clock_us());
    rec.packet(opus_packet(1, 0, pkt, sizeof pkt, 120));
    rec.talk_ended(1);
    rec.flush();
  }
  const auto d = decode_file(dir.path / "Ana-1.opus");
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.pcm.size(), 120u + 960u - 312u);
}

// index.csv is the professor's alone and is never written through a link planted in a shared
// folder (it would append students' text to any file the server can write).
TEST(Recorder, TheIndexIsOwnerOnlyAndNeverFollowsALink) {
  TempDir dir("index-link");
  const fs::path victim = dir.path.parent_path() / ("victim-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(victim) << "ORIGINAL\n";
  fs::create_symlink(victim, dir.path / "index.csv");
  Lines lines;
  const std::uint8_t pkt[] = {0x48, 1, 2, 3};
  {
    Recorder rec(dir.path, lines.log());
    rec.talk_started(1, "Ana", wall_clock_us());
    rec.packet(opus_packet(1, 0, pkt, sizeof pkt, kFrame));
    rec.talk_ended(1);
    rec.flush();
  }
  std::ifstream in(victim);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "ORIGINAL\n");
  EXPECT_NE(lines.starting("cannot add Ana-1.opus"), "");
  EXPECT_TRUE(fs::exists(dir.path / "Ana-1.opus"));  // the recording itself is kept
  fs::remove(victim);

  TempDir plain("index-mode");
  {
    Recorder rec(plain.path, lines.log());
    rec.talk_started(1, "Ana", wall_clock_us());
    rec.packet(opus_packet(1, 0, pkt, sizeof pkt, kFrame));
    rec.talk_ended(1);
    rec.flush();
  }
  EXPECT_EQ(fs::status(plain.path / "index.csv").permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
}

// The professor reaches a recording only through an id from the listing: ids follow the files the
// recorder made (a talk without audio takes none), and a file is offered once it is finished.
TEST(Recorder, ListsItsRecordingsByIdOnceFinished) {
  TempDir dir("catalog");
  Lines lines;
  const std::uint8_t pkt[] = {0x48, 1, 2, 3};
  Recorder rec(dir.path, lines.log());
  EXPECT_TRUE(rec.recordings().empty());
  rec.talk_started(1, "Ana", wall_clock_us());
  rec.talk_ended(1);
  rec.talk_started(2, "Ben", wall_clock_us());
  for (std::uint32_t i = 0; i < 50; ++i) rec.packet(opus_packet(2, i * kFrame, pkt, sizeof pkt, kFrame));
  rec.flush();
  auto list = rec.recordings();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, 1u);
  EXPECT_EQ(list[0].file, "Ben-1.opus");
  EXPECT_EQ(list[0].speaker, "Ben");
  EXPECT_FALSE(list[0].finished);
  EXPECT_FALSE(rec.recording_file(1)) << "not offered while it is being written";
  rec.talk_ended(2);
  rec.flush();
  list = rec.recordings();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_TRUE(list[0].finished);
  EXPECT_EQ(list[0].duration_ms, 1000u);
  EXPECT_EQ(list[0].bytes, fs::file_size(dir.path / "Ben-1.opus"));
  EXPECT_EQ(rec.recording_file(1), dir.path / "Ben-1.opus");
  EXPECT_FALSE(rec.recording_file(0));
  EXPECT_FALSE(rec.recording_file(2));
}

// Packets that overlap one already held (here: one a sample after another, 9,600 of them in 200 ms
// of timestamps) used to be written one after the other, each adding its 20 ms: 192 s of file
// from 0.2 s of timeline. Only packets that follow one another make it into the file, and the
// reorder window holds no more packets than fit in it side by side.
TEST(Recorder, OverlappingPacketsNeverLengthenTheFile) {
  TempDir dir("overlap");
  Lines lines;
  const auto p = encode_speech(1);
  {
    Recorder rec(dir.path, lines.log(), 100000);  // no queue cap in the way
    rec.talk_started(1, "Ana", wall_clock_us());
    for (std::uint32_t ts = 0; ts < 10 * kFrame; ++ts) rec.packet(opus_packet(1, ts, p.data[0].data(), p.data[0].size(), kFrame));
    rec.talk_ended(1);
    rec.flush();
  }
  const std::string line = lines.starting("recorded Ana-1.opus");
  EXPECT_EQ(pcm_total(dir.path / "Ana-1.opus"), 10 * kFrame - 312) << line;
  EXPECT_NE(line.find("10 packets, 200 ms, 0 gaps filled, 9590 late, repeated or overlapping"), std::string::npos) << line;
}

// A talk whose timestamps cross 2^32 (the sender's choice of a first timestamp; the protocol lets
// them wrap) is written in its order from its first packet: before, the pending packets sorted by
// raw timestamp put the wrapped ones first, and the file started at timestamp 0.
TEST(Recorder, ATalkAcrossThe32BitWrapIsRecordedInOrderFromItsFirstPacket) {
  TempDir dir("wrap");
  std::vector<std::string> errs;
  const auto p = encode_speech(100);
  const std::uint32_t first = 0u - kFrame * 40;  // 40 packets before the wrap, 60 after
  {
    Recorder rec(dir.path, log_to(errs));
    rec.talk_started(1, "Ana", wall_clock_us());
    for (std::size_t i = 0; i < p.data.size(); ++i)
      rec.packet(opus_packet(1, first + static_cast<std::uint32_t>(i) * kFrame, p.data[i].data(), p.data[i].size(), kFrame));
    rec.talk_ended(1);
    rec.flush();
  }
  EXPECT_TRUE(errs.empty());
  const auto d = decode_file(dir.path / "Ana-1.opus");
  ASSERT_TRUE(d.ok);
  ASSERT_EQ(d.pcm.size(), p.data.size() * kFrame - 312);
  EXPECT_GT(t::correlation(p.input, d.pcm, 0), 0.85);
}

// The recorder's thread stops (here: held inside a log call, as a disk that no longer answers
// would hold it in write(2)) while a talk goes on: at most max_queued_packets wait, the rest are
// dropped and counted, and the file holds what was queued.
TEST(Recorder, AtMostMaxQueuedPacketsWaitWhenItsThreadFallsBehind) {
  TempDir dir("queue");
  std::mutex m;
  std::condition_variable cv;
  bool held = false, go = false;
  std::vector<std::string> lines;
  const std::uint8_t pkt[] = {0x48, 1, 2, 3};
  {
    Recorder rec(
        dir.path,
        [&](bool, const std::string& line) {
          std::unique_lock lock(m);
          lines.push_back(line);
          if (line.rfind("recorded Ana-1.opus", 0) == 0) {
            held = true;
            cv.notify_all();
            cv.wait(lock, [&] { return go; });
          }
        },
        100);
    rec.talk_started(1, "Ana", wall_clock_us());
    rec.packet(opus_packet(1, 0, pkt, sizeof pkt, kFrame));
    rec.talk_ended(1);
    {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return held; });
    }
    rec.talk_started(2, "Ana", wall_clock_us());
    for (std::uint32_t i = 0; i < 10000; ++i) rec.packet(opus_packet(2, i * kFrame, pkt, sizeof pkt, kFrame));
    {
      std::lock_guard lock(m);
      go = true;
    }
    cv.notify_all();
    rec.talk_ended(2);
    rec.flush();
  }
  std::string line;
  for (const auto& l : lines)
    if (l.rfind("recorded Ana-2.opus", 0) == 0) line = l;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(line, match, std::regex(R"(: (\d+) packets, .* (\d+) dropped \(the recorder fell behind\))"))) << line;
  const long written = std::stol(match[1]), dropped = std::stol(match[2]);
  EXPECT_GE(written, 99);  // the first talk's packet may still count against the cap
  EXPECT_LE(written, 100);
  EXPECT_EQ(written + dropped, 10000);
  EXPECT_EQ(pcm_total(dir.path / "Ana-2.opus"), written * kFrame - 312);
}

// The outside client's talk through the pipeline on a scripted clock: 0.11 s, three packets, then
// three at 0x7FFFFC40. The recorder filled the jump with 12.4 hours of concealment (6.9 MB); the
// pipeline's timeline guard refuses the three and the file holds the talk's 60 ms.
TEST(Recorder, AJumpFarAheadOfTheTalkNeverReachesTheFile) {
  TempDir dir("jump");
  Lines lines;
  const auto p = encode_speech(6);
  const TimePoint t0 = Clock::now();
  {
    AudioPipeline pipe(nullptr, std::make_unique<Recorder>(dir.path, lines.log()), {}, lines.log());
    pipe.talk_started(7, "Eve", t0);
    for (std::uint16_t i = 0; i < 6; ++i)
      feed(pipe, 7, i, i < 3 ? i * kFrame : 0x7FFFFC40u + (i - 3u) * kFrame, p.data[i], t0 + std::chrono::milliseconds(5 + 20 * i));
    pipe.talk_ended(7, t0 + std::chrono::milliseconds(110));
    pipe.recorder()->flush();
  }
  EXPECT_EQ(pcm_total(dir.path / "Eve-1.opus"), 3 * kFrame - 312);
  EXPECT_LT(fs::file_size(dir.path / "Eve-1.opus"), 4096u);
  const std::string line = lines.starting("recorded Eve-1.opus");
  EXPECT_NE(line.find(": 3 packets, 60 ms, 0 gaps filled, 0 late, repeated or overlapping, 3 refused (outside the talk's time)"),
            std::string::npos)
      << line;
  EXPECT_EQ(lines.starting("talk 7:"),
            "talk 7: 3 packets refused (3 outside the talk's time on the server's clock, 0 more audio than that time), 3 "
            "accepted");
}

// 50,000 valid frames within one second (scripted arrivals 20 us apart), then the release: the file
// is no longer than the talk's second plus the slack, and the recorder was handed 50 packets.
TEST(Recorder, AFloodThroughThePipelineLeavesAFileNoLongerThanTheTalkPlusTheSlack) {
  TempDir dir("flood");
  Lines lines;
  const auto p = encode_speech(50);
  const TimePoint t0 = Clock::now();
  {
    AudioPipeline pipe(nullptr, std::make_unique<Recorder>(dir.path, lines.log()), {}, lines.log());
    pipe.talk_started(1, "Mallory", t0);
    for (std::uint32_t i = 0; i < 50000; ++i)
      feed(pipe, 1, static_cast<std::uint16_t>(i), i * kFrame, p.data[i % p.data.size()], t0 + std::chrono::microseconds(20 * i));
    EXPECT_EQ(pipe.timeline().counts().accepted, 50u);
    pipe.talk_ended(1, t0 + std::chrono::seconds(1));
    pipe.recorder()->flush();
  }
  const long long total = pcm_total(dir.path / "Mallory-1.opus");
  EXPECT_LE(total + 312, static_cast<long long>(TalkTimeline{}.limit(std::chrono::seconds(1))));
  EXPECT_EQ(total, 50 * kFrame - 312);
  EXPECT_NE(lines.starting("recorded Mallory-1.opus").find("49950 refused"), std::string::npos)
      << lines.starting("recorded Mallory-1.opus");
}

// A talk held past max_talk, its sender keeping real time: the file stops at max_talk plus the
// slack (here 2 s + 2 ms + 1 s), whatever the floor does.
TEST(Recorder, NoRecordingRunsPastMaxTalkPlusTheSlack) {
  TempDir dir("maxtalk");
  Lines lines;
  const auto p = encode_speech(50);
  const TimePoint t0 = Clock::now();
  TalkTimelineConfig config;
  config.max_talk = std::chrono::seconds(2);
  {
    AudioPipeline pipe(nullptr, std::make_unique<Recorder>(dir.path, lines.log()), config, lines.log());
    pipe.talk_started(1, "Ana", t0);
    for (std::uint32_t i = 0; i < 500; ++i)  // 10 s
      feed(pipe, 1, static_cast<std::uint16_t>(i), i * kFrame, p.data[i % p.data.size()], t0 + std::chrono::milliseconds(20 * i));
    pipe.talk_ended(1, t0 + std::chrono::seconds(10));
    pipe.recorder()->flush();
  }
  EXPECT_EQ(pcm_total(dir.path / "Ana-1.opus"), 150 * kFrame - 312);  // 3.00 s
}
