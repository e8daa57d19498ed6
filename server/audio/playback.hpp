// Live playback on the professor's speakers through PortAudio. The room's strand queues commands
// (talk start, packet, talk end) into a lock-free single-producer single-consumer queue; the
// PortAudio callback alone drains it into the jitter stage and fills the output, never locking,
// allocating or logging. A watchdog thread logs per-talk latency reports the callback leaves in a
// second queue, reopens the device when the callback stops coming, puts the callback's thread at
// real-time priority where the system allows it, and closes the device after a quiet spell
// (standby: an open stream costs a few % of a core in callbacks every 5 ms), reopening it the
// moment a talk starts (a couple of ms through PulseAudio, within the talk's start delay).
#pragma once

#include <boost/lockfree/spsc_queue.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "echo_canceller.hpp"
#include "feedback_estimator.hpp"
#include "ringing.hpp"
#include "jitter_stage.hpp"
#include "latency_histogram.hpp"
#include "output_buffer_policy.hpp"
#include "playout_ring.hpp"
#include "ptt/level_meter.hpp"

namespace ptt::server {

struct OutputDevice {
  int index = -1;
  std::string name, host_api;
  int max_output_channels = 0;
  double default_sample_rate = 0, default_low_latency_ms = 0;
  bool is_default = false;
};

// What the server does about its own sound coming back through the talking student's microphone
// (docs/AUDIO.md, "Feedback"): nothing; estimate the coupling and tell the student (and the
// console); or that, and lower the playback enough to keep the loop well below howling.
enum class FeedbackMode { off, warn, protect };

struct PlaybackConfig {
  std::string device;  // name (exact, else unique substring) or index; empty: PortAudio's default
  JitterConfig jitter;
  int frames_per_buffer = 240;  // 5 ms callbacks
  // Close the device after this long with no talk (0: never); the next talk reopens it.
  int standby_after_s = 10;
  FeedbackMode feedback = FeedbackMode::off;
};

// Per-talk figures, measured on the audio thread.
struct TalkReport {
  std::uint32_t talk_id = 0;
  std::uint32_t packets = 0, fec = 0, plc = 0, late = 0, skipped = 0;
  // Catching up without losing speech: packets that came after their time and still played,
  // silent packets skipped, and speech shortened by time compression.
  std::uint32_t late_played = 0, skipped_silence = 0;
  // What `skipped` is made of: dropped by speexdsp after a later packet had played, beyond the
  // delay budget, and strays (a lone packet far ahead).
  std::uint32_t discarded = 0, over_budget = 0, stray = 0;
  double compressed_ms = 0;
  std::uint32_t refused = 0;  // neither 10 nor 20 ms or unlike the talk's first, off its grid, or repeated: not our page's
  double capture_to_playout_median_ms = -1, capture_to_playout_p99_ms = -1;  // -1: unknown
  double arrival_to_playout_median_ms = -1, arrival_to_playout_p99_ms = -1;
  // Capture to arrival at the server: the student's framing (the packet + 5 ms of preprocessing) and the network.
  double capture_to_arrival_median_ms = -1, capture_to_arrival_p99_ms = -1;
  double output_latency_ms = 0;
  std::uint32_t underruns = 0;  // times the device ran dry while the talk played (the audio thread was late)
  // The room's coupling from the speakers into the talker's microphone, at its strongest in the
  // talk (-99: none seen), its delay, and how far the playback was lowered against it (dB, <= 0).
  double feedback_db = -99, feedback_delay_ms = 0, feedback_lowered_db = 0;
  bool feedback_warned = false;  // the talker was told to step back
  // Tones the loop rang at that the playback notched out (Hz; 0: none), with --feedback protect.
  std::array<float, NotchBank::kSlots> notched_hz{};
  // The speakers cancelled from the talk (--feedback protect, after a lowering that held): the
  // coupling the canceller found and took out (dB; -99: none), and the room's delay it was
  // aligned to (-1: not engaged).
  double cancelled_db = -99, cancelled_delay_ms = -1;
};

class Playback {
 public:
  using Log = std::function<void(bool error, const std::string& message)>;
  using ReportSink = std::function<void(const TalkReport&)>;

  // Lists output devices (initialises PortAudio for the call).
  static std::vector<OutputDevice> list_devices(std::string* error = nullptr);

  // Opens the device and starts playing silence. If that fails, running() is false and status()
  // says why; the watchdog keeps trying to open it.
  Playback(PlaybackConfig config, Log log, ReportSink on_report = {});
  ~Playback();
  Playback(const Playback&) = delete;
  Playback& operator=(const Playback&) = delete;

  bool running() const noexcept { return running_.load(); }
  // Callbacks the device has made so far (--ready-file waits for them to come in real time).
  std::uint64_t callbacks() const noexcept { return callbacks_.load(std::memory_order_relaxed); }
  std::string status() const;

  // From the room's strand (one producer). Never block; a full queue drops and counts.
  void talk_started(TalkId talk_id);
  void packet(const AudioPacket& packet);
  void talk_ended(TalkId talk_id);
  std::uint64_t dropped_commands() const noexcept { return dropped_.load(); }
  // From any thread.
  LiveMeter live_meter() const noexcept;
  // The professor's volume, 0 (muted) to 1, from any thread; the audio thread ramps to it over one
  // callback's buffer, so a mute does not click.
  void set_gain(float gain) noexcept { gain_.store(gain < 0 ? 0.0f : gain > 1 ? 1.0f : gain, std::memory_order_relaxed); }
  // The loop gain (room coupling times the playback's gain) at which the talker is warned, and
  // which protection keeps the loop at (dB); protection starts above kProtectAboveDb.
  static constexpr double kWarnAboveDb = -12, kProtectAboveDb = -10, kProtectToDb = -20;

 private:
  // What the room's strand hands the audio thread, in the order it happened. A talk's start or end
  // is a talk id; only audio holds a packet.
  struct TalkStart {
    TalkId talk_id = 0;
  };
  struct TalkEnd {
    TalkId talk_id = 0;
  };
  using Command = std::variant<TalkStart, AudioPacket, TalkEnd>;
  // What the audio thread hands the watchdog for the feedback estimate: a stretch of what was
  // played (after the gains) or of the talk as it came in (decoded, before them), dated.
  struct FeedbackBlock {
    bool played = false;
    TalkId talk_id = 0;
    int samples = 0;
    std::int64_t position = 0, first_us = 0;
    std::array<float, JitterStage::kMaxStep> pcm{};
  };
  void feedback_block(bool played, const float* pcm, int samples, std::int64_t position, TimePoint first) noexcept;
  void watch_feedback(std::chrono::steady_clock::time_point now);  // watchdog: drains, estimates, protects
  friend struct PlaybackCallback;
  int render(float* out, unsigned long frames, double device_latency_s, bool underflow) noexcept;
  void finish_talk_report() noexcept;
  bool open_stream(std::string& error);
  // drain: let the device play what it holds and its thread end by itself (a healthy device);
  // otherwise abort, which cancels that thread wherever it is (a device that stopped calling back).
  // keep_running: a reopening follows at once.
  void close_stream(bool drain, bool keep_running = false);
  void reopen_stream();  // at the policy's latency, keeping the talk (the jitter stage waits meanwhile)
  void watchdog();

  PlaybackConfig config_;
  Log log_;
  ReportSink on_report_;
  // audio thread state
  JitterStage stage_;
  boost::lockfree::spsc_queue<Command, boost::lockfree::capacity<256>> commands_;
  boost::lockfree::spsc_queue<TalkReport, boost::lockfree::capacity<32>> reports_;
  PlayoutRing ring_;
  std::array<float, PlayoutRing::kMaxFrames> mono_{};
  LatencyHistogram capture_hist_, arrival_hist_, transit_hist_;
  TalkReport current_{};
  JitterStats stats_at_start_{};
  bool was_active_ = false;
  double output_latency_s_ = 0;  // as the stream states it when opened
  // When the device runs dry unless the next callback comes (the last buffer's end at the speaker).
  TimePoint heard_until_{};
  std::uint64_t underruns_at_start_ = 0;
  double device_latency_sum_s_ = 0;  // as each callback of this talk saw it
  std::uint64_t device_latency_n_ = 0;
  int channels_ = 1;
  // The callback's thread, noted by its first call so that the watchdog can raise its priority
  // (the callback itself makes no system call for it).
  std::atomic<unsigned long> audio_thread_{0};
  bool priority_tried_ = false;  // watchdog only: for the current stream
  // shared
  std::atomic<bool> running_{false};
  std::atomic<std::uint64_t> callbacks_{0}, dropped_{0}, underruns_{0};
  std::atomic<bool> talking_{false};
  std::atomic<float> gain_{1.0f};
  std::atomic<float> protect_gain_{1.0f};  // the watchdog's, against feedback; 1 when not protecting
  static_assert(std::atomic<float>::is_always_lock_free, "the audio thread reads it: no lock behind it");
  float applied_gain_ = 1.0f;  // the audio thread's: where the last buffer's ramp ended
  float applied_protect_ = 1.0f;  // the audio thread's: protect_gain_ as smoothed so far
  LevelMeter level_;           // the audio thread's: of the talk playing
  std::atomic<TalkId> meter_talk_{0};
  std::atomic<float> meter_level_db_{LevelMeter::kFloorDb};
  std::atomic<std::uint32_t> meter_played_{0}, meter_late_{0};
  // Feedback: the audio thread's side, then the watchdog's.
  boost::lockfree::spsc_queue<FeedbackBlock, boost::lockfree::capacity<128>> feedback_blocks_;
  std::array<float, PlayoutRing::kMaxFrames> played_mono_{};
  std::int64_t played_position_ = 0;
  FeedbackEstimator estimator_;
  CouplingTracker tracker_;
  TalkId estimating_talk_ = 0;
  std::chrono::steady_clock::time_point next_estimate_{};
  RingingDetector ringing_;
  NotchBank notches_;  // set by the watchdog, run by the audio thread
  // The last stage: the audio thread's canceller, engaged by the watchdog for a talk by storing
  // where the echo sits (captured timestamp + echo_offset_ = the played position it carries back).
  static constexpr std::int64_t kNoEcho = INT64_MIN;
  EchoCanceller canceller_;
  std::atomic<TalkId> echo_talk_{0};
  std::atomic<std::int64_t> echo_offset_{kNoEcho};
  static_assert(std::atomic<std::int64_t>::is_always_lock_free);
  struct TalkFeedback {
    std::array<float, NotchBank::kSlots> notched_hz{};
    int notched = 0;
    double max_db = -99, delay_ms = 0, lowered_db = 0;
    bool warned = false, disproved = false;
    // The last lowering, put to the test `verify_in` looks later (see watch_feedback).
    int verify_in = 0;
    double lowered_coupling_db = -99, lowered_delay_ms = 0, lowered_by_db = 0;
    float protect_before = 1.0f;  // the playback's gain before that lowering
    double cancel_delay_ms = -1;  // the room's delay the canceller is aligned to; -1: not engaged
  } talk_feedback_, previous_feedback_;
  TalkId previous_talk_ = 0;
  double last_professor_db_ = 0;  // the watchdog's: the professor's volume at the last look
  std::atomic<TalkId> feedback_talk_{0};
  std::atomic<float> feedback_db_{-99.0f};
  std::atomic<bool> feedback_warn_{false};
  OutputBufferPolicy buffer_policy_{OutputBufferPolicy::Clock::now()};  // watchdog (and constructor) only
  mutable std::mutex mutex_;  // status_, stream_ (never taken by the callback)
  std::string status_;
  void* stream_ = nullptr;
  bool pa_initialised_ = false;
  // Wakes the watchdog at once (a talk starting while the device stands by, or the end); posting
  // it never blocks the room's strand.
  std::counting_semaphore<> wake_{0};
  std::atomic<bool> stopping_{false}, standby_{false};
  std::atomic<bool> wake_posted_{false};  // the room has posted wake_ once for the standby; the watchdog clears it
  std::atomic<std::int64_t> last_command_ns_{0};  // steady clock, of the last command the room queued
  void note_command() noexcept;
  void wake_from_standby() noexcept;  // the room's strand: at most one post per standby
  std::thread watchdog_;
};

}  // namespace ptt::server
