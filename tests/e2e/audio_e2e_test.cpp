// End to end through real audio: the real ptt-server binary plays a talk through PortAudio into an
// isolated PulseAudio null sink, parec records the sink's monitor, and the result is compared with
// the speech that was sent. Also: the recording passes opusinfo, and survives SIGKILL mid-talk.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <opusfile.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "../server/fake_peer.hpp"
#include "../server/ws_test_client.hpp"
#include "../shared/signals.hpp"
#include "child_process.hpp"
#include "ptt/codec.hpp"

namespace fs = std::filesystem;
namespace proto = ptt::protocol;
using namespace std::chrono_literals;
using ptt::test::ChildProcess;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// RMS per 10 ms frame.
std::vector<double> envelope(const std::vector<float>& x) {
  std::vector<double> e;
  for (std::size_t off = 0; off + 480 <= x.size(); off += 480) e.push_back(ptt::test::rms(x.data() + off, 480));
  return e;
}

// Pearson correlation of two envelopes, b shifted by lag frames; best over lags in [0, max_lag].
double best_envelope_correlation(const std::vector<double>& a, const std::vector<double>& b, int max_lag, int* best) {
  double best_c = -1;
  for (int lag = 0; lag <= max_lag; ++lag) {
    const std::size_t n = std::min(a.size(), b.size() > static_cast<std::size_t>(lag) ? b.size() - lag : 0);
    if (n < 10) break;
    double ma = 0, mb = 0;
    for (std::size_t i = 0; i < n; ++i) ma += a[i], mb += b[i + lag];
    ma /= n, mb /= n;
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double x = a[i] - ma, y = b[i + lag] - mb;
      ab += x * y, aa += x * x, bb += y * y;
    }
    const double c = ab / std::sqrt(aa * bb + 1e-30);
    if (c > best_c) best_c = c, *best = lag;
  }
  return best_c;
}

// Seconds between the first and last 10 ms frame louder than 30 dB under the loudest.
double active_seconds(const std::vector<double>& env) {
  double peak = 0;
  for (double v : env) peak = std::max(peak, v);
  const double threshold = peak * std::pow(10.0, -30.0 / 20);
  int first = -1, last = -1;
  for (int i = 0; i < static_cast<int>(env.size()); ++i)
    if (env[i] > threshold) {
      if (first < 0) first = i;
      last = i;
    }
  return first < 0 ? 0 : (last - first + 1) * 0.01;
}

class AudioEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ptt-e2e-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "runtime");
    fs::permissions(dir_ / "runtime", fs::perms::owner_all);
    env_ = {"XDG_RUNTIME_DIR=" + (dir_ / "runtime").string(),
            "PULSE_SERVER=unix:" + (dir_ / "runtime" / "pulse" / "native").string(), "HOME=" + dir_.string()};
    pulse_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
                                 "--disable-shm=yes", "-L", "module-null-sink sink_name=ptt_sink rate=48000 channels=2",
                                 "-L", "module-native-protocol-unix auth-anonymous=1", "-L", "module-always-sink"},
        env_, (dir_ / "pulseaudio.log").string());
    for (int i = 0; i < 100 && !fs::exists(dir_ / "runtime" / "pulse" / "native"); ++i) std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(fs::exists(dir_ / "runtime" / "pulse" / "native")) << read_file(dir_ / "pulseaudio.log");
  }
  void TearDown() override {
    server_.reset();
    parec_.reset();
    pulse_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Starts ptt-server and returns its port, read from the URL it prints.
  std::uint16_t start_server() {
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{PTT_SERVER_BINARY, "--plain-http", "--bind", "127.0.0.1", "--port", "0",
                                 "--web-root", dir_.string(), "--state-dir", (dir_ / "state").string(),
                                 "--recordings", (dir_ / "recordings").string(), "--device", "pulse"},
        env_, (dir_ / "server.log").string());
    const std::regex url(R"(http://localhost:(\d+)/)");
    for (int i = 0; i < 200; ++i) {
      std::smatch m;
      const std::string log = read_file(dir_ / "server.log");
      if (std::regex_search(log, m, url)) {
        // PulseAudio's ALSA plugin holds a new stream for about 1.5 s before it runs in real time;
        // a classroom server is up long before the first talk, so the test lets it settle too.
        std::this_thread::sleep_for(2500ms);
        return static_cast<std::uint16_t>(std::stoi(m[1]));
      }
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "server did not print its URL:\n" << read_file(dir_ / "server.log");
    return 0;
  }

  void start_recording_sink() {
    parec_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"sh", "-c",
                                 "exec parec -d ptt_sink.monitor --rate=48000 --channels=1 --format=float32le --latency-msec=10 > " +
                                     (dir_ / "sink.raw").string()},
        env_, (dir_ / "parec.log").string());
    std::this_thread::sleep_for(300ms);
  }

  // Encodes speech into 20 ms packets and sends them in real time as the floor holder.
  void talk(ptt::server::test::WsTestClient& c, std::uint32_t talk, const std::vector<float>& speech, std::size_t max_packets) {
    ptt::codec::Encoder enc;
    std::vector<std::uint8_t> packet(1275), frame(proto::kMaxAudioFrame);
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; (i + 1) * 960 <= speech.size() && i < max_packets; ++i) {
      std::this_thread::sleep_until(start + i * 20ms);
      const int n = enc.encode(speech.data() + i * 960, packet.data(), packet.size());
      proto::AudioHeader h;
      h.flags = static_cast<std::uint8_t>((i == 0 ? proto::audio_flags::kTalkStart : 0) | proto::audio_flags::kSpeech);
      h.sequence = static_cast<std::uint16_t>(i);
      h.talk_id = talk;
      h.timestamp = static_cast<std::uint32_t>(i * 960);
      h.capture_time_us = static_cast<std::uint64_t>(wall_us()) - 20000;  // the frame was complete just now
      const auto size = proto::encode_audio_frame(h, packet.data(), static_cast<std::size_t>(n), frame.data(), frame.size());
      c.send_binary(std::vector<std::uint8_t>(frame.begin(), frame.begin() + size));
    }
  }

  fs::path dir_;
  std::vector<std::string> env_;
  std::unique_ptr<ChildProcess> pulse_, server_, parec_;
};

}  // namespace

TEST_F(AudioEndToEnd, SpeechPlaysThroughPortAudioAndIsRecorded) {
  const auto port = start_server();
  ASSERT_NE(port, 0);
  start_recording_sink();
  ptt::server::test::WsTestClient c(port, {});
  ptt::server::test::join(c, "Ana");
  c.send(proto::FloorRequest{});
  auto granted = c.expect<proto::FloorGranted>();
  ASSERT_TRUE(granted);

  auto speech = ptt::test::speech();
  talk(c, granted->talk_id, speech, 100000);
  c.send(proto::FloorRelease{granted->talk_id});
  std::this_thread::sleep_for(800ms);  // drain and let the sink catch up
  parec_->stop(SIGINT);

  const std::string raw = read_file(dir_ / "sink.raw");
  std::vector<float> out(raw.size() / sizeof(float));
  std::memcpy(out.data(), raw.data(), out.size() * sizeof(float));
  ASSERT_GT(out.size(), 48000u) << "parec captured too little";
  speech.resize(speech.size() / 960 * 960);
  const auto in_env = envelope(speech), out_env = envelope(out);
  int lag = 0;
  const double c_env = best_envelope_correlation(in_env, out_env, static_cast<int>(out_env.size()) - 50, &lag);
  const double in_s = active_seconds(in_env), out_s = active_seconds(out_env);
  RecordProperty("envelope_correlation", std::to_string(c_env));
  RecordProperty("input_seconds", std::to_string(in_s));
  RecordProperty("output_seconds", std::to_string(out_s));
  std::printf("envelope correlation %.3f at lag %d ms; speech %.2f s in, %.2f s out\n", c_env, lag * 10, in_s, out_s);
  EXPECT_GT(c_env, 0.9);
  EXPECT_NEAR(out_s, in_s, 0.05 * in_s);

  // The recording of the talk passes opusinfo.
  server_->stop(SIGTERM);
  const auto file = dir_ / "recordings" / "Ana-1.opus";
  ASSERT_TRUE(fs::exists(file)) << read_file(dir_ / "server.log");
  const int rc = std::system(("opusinfo '" + file.string() + "' > '" + (dir_ / "opusinfo.log").string() + "' 2>&1").c_str());
  EXPECT_EQ(rc, 0) << read_file(dir_ / "opusinfo.log");
  // The server logged the talk's latency figures.
  const std::string log = read_file(dir_ / "server.log");
  const auto at = log.find("talk 1 played");
  ASSERT_NE(at, std::string::npos) << log;
  std::printf("server: %s\n", log.substr(at, log.find('\n', at) - at).c_str());
}

TEST_F(AudioEndToEnd, SigkillMidTalkLeavesAValidRecordingMissingAtMostTheLastSecond) {
  const auto port = start_server();
  ASSERT_NE(port, 0);
  ptt::server::test::WsTestClient c(port, {});
  ptt::server::test::join(c, "Ben");
  c.send(proto::FloorRequest{});
  auto granted = c.expect<proto::FloorGranted>();
  ASSERT_TRUE(granted);
  const std::size_t sent = 150;  // 3 s
  talk(c, granted->talk_id, ptt::test::speech(), sent);
  std::this_thread::sleep_for(100ms);  // the last packets reach the server
  server_->stop(SIGKILL);

  const auto file = dir_ / "recordings" / "Ben-1.opus";
  ASSERT_TRUE(fs::exists(file));
  int error = 0;
  OggOpusFile* f = op_open_file(file.c_str(), &error);
  ASSERT_NE(f, nullptr) << "op_open_file error " << error;
  std::vector<float> pcm(5760);
  std::size_t total = 0;
  int n;
  while ((n = op_read_float(f, pcm.data(), static_cast<int>(pcm.size()), nullptr)) > 0) total += static_cast<std::size_t>(n);
  EXPECT_EQ(n, 0) << "decode error";
  op_free(f);
  const double seconds = static_cast<double>(total) / 48000;
  std::printf("after SIGKILL: %.2f s of the %.2f s sent are on disk\n", seconds, sent * 0.02);
  EXPECT_GE(seconds, sent * 0.02 - 1.0);
}
