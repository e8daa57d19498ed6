#include "playback.hpp"

#include <fcntl.h>
#include <portaudio.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <type_traits>

#include "alsa_messages.hpp"
#include "ptt/audio_format.hpp"

namespace ptt::server {

namespace {

// PortAudio's default host API set-up prints probing noise for absent ALSA/JACK devices on stderr.
// Keep it out of the professor's terminal while initialising.
PaError quiet_initialize() {
  fflush(stderr);
  const int saved = ::dup(2);
  const int null = ::open("/dev/null", O_WRONLY);
  if (saved >= 0 && null >= 0) ::dup2(null, 2);
  const PaError err = Pa_Initialize();
  install_alsa_message_handler();  // after PortAudio, which may set its own
  if (saved >= 0) {
    ::dup2(saved, 2);
    ::close(saved);
  }
  if (null >= 0) ::close(null);
  return err;
}

// Real-time (SCHED_FIFO) priority for the audio thread: above every normal process, so a busy
// laptop (a video call, a compile) cannot make it late. Any real-time priority does that; 10
// stays below the kernel's interrupt threads (50). Allowed to root and to users with an
// RLIMIT_RTPRIO (docs/AUDIO.md says how to grant one).
// PulseAudio's ALSA plugin wakes the callback's thread from its own thread (libpulse's threaded
// mainloop, "threaded-ml"), which relays the sound server's requests for audio: left at normal
// priority, a busy core delays that relay and the device runs dry however early the callback is.
// It gets the callback's priority too. Returns how many such threads there were.
int raise_sound_server_threads(int priority) {
  int raised = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (!std::getline(comm, name) || name != "threaded-ml") continue;
    sched_param param{};
    param.sched_priority = priority;
    const pid_t tid = static_cast<pid_t>(std::atoi(task.path().filename().c_str()));
    raised += ::sched_setscheduler(tid, SCHED_FIFO, &param) == 0;
  }
  return raised;
}

std::string raise_priority(pthread_t thread) {
  constexpr int kWanted = 10;
  rlimit limit{};
  ::getrlimit(RLIMIT_RTPRIO, &limit);
  const bool unlimited = limit.rlim_cur == RLIM_INFINITY || ::geteuid() == 0;
  const int priority = unlimited ? kWanted : std::min<int>(kWanted, static_cast<int>(limit.rlim_cur));
  if (priority >= 1) {
    sched_param param{};
    param.sched_priority = priority;
    if (const int err = ::pthread_setschedparam(thread, SCHED_FIFO, &param); err == 0) {
      const int relays = raise_sound_server_threads(priority);
      return "audio thread at real-time priority (SCHED_FIFO " + std::to_string(priority) + ")" +
             (relays > 0 ? ", and PulseAudio's relay thread" : "");
    } else {
      return std::string("audio thread at normal priority: real-time scheduling refused (") + std::strerror(err) +
             "); see docs/AUDIO.md to allow it";
    }
  }
  return "audio thread at normal priority: real-time scheduling not allowed (RLIMIT_RTPRIO is 0); see docs/AUDIO.md to "
         "allow it";
}

int find_device(const std::string& wanted, std::string& error) {
  const int count = Pa_GetDeviceCount();
  if (count < 0) {
    error = Pa_GetErrorText(count);
    return paNoDevice;
  }
  if (wanted.empty()) {
    const int d = Pa_GetDefaultOutputDevice();
    if (d == paNoDevice) error = "no default output device (is a sound server or card present?)";
    return d;
  }
  if (!wanted.empty() && std::all_of(wanted.begin(), wanted.end(), ::isdigit)) {
    const int d = std::atoi(wanted.c_str());
    if (d < count && Pa_GetDeviceInfo(d)->maxOutputChannels > 0) return d;
    error = "no output device with index " + wanted;
    return paNoDevice;
  }
  int match = paNoDevice, matches = 0;
  for (int i = 0; i < count; ++i) {
    const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
    if (info->maxOutputChannels <= 0) continue;
    if (wanted == info->name) return i;
    if (std::strstr(info->name, wanted.c_str())) {
      match = i;
      ++matches;
    }
  }
  if (matches == 1) return match;
  error = matches ? "output device name '" + wanted + "' is ambiguous (see --list-devices)"
                  : "no output device named '" + wanted + "' (see --list-devices)";
  return paNoDevice;
}

// A gain in dB (floored at -60 dB: a muted output is not minus infinity).
double gain_db(float gain) noexcept { return 20 * std::log10(static_cast<double>(std::max(gain, 1e-3f))); }

}  // namespace

struct PlaybackCallback {
  static int run(const void*, void* output, unsigned long frames, const PaStreamCallbackTimeInfo* time,
                 PaStreamCallbackFlags flags, void* self) {
    // How long until this buffer is heard, as the device says now (through PulseAudio's ALSA plugin
    // this follows what PulseAudio holds); -1 where the host API gives nothing usable.
    double ahead = -1;
    if (time && time->outputBufferDacTime > time->currentTime && time->outputBufferDacTime - time->currentTime < 1.0)
      ahead = time->outputBufferDacTime - time->currentTime;
    return static_cast<Playback*>(self)->render(static_cast<float*>(output), frames, ahead, (flags & paOutputUnderflow) != 0);
  }
};

std::vector<OutputDevice> Playback::list_devices(std::string* error) {
  std::vector<OutputDevice> out;
  if (const PaError err = quiet_initialize(); err != paNoError) {
    if (error) *error = Pa_GetErrorText(err);
    return out;
  }
  const int def = Pa_GetDefaultOutputDevice();
  for (int i = 0; i < Pa_GetDeviceCount(); ++i) {
    const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
    if (info->maxOutputChannels <= 0) continue;
    out.push_back({i, info->name, Pa_GetHostApiInfo(info->hostApi)->name, info->maxOutputChannels,
                   info->defaultSampleRate, info->defaultLowOutputLatency * 1000, i == def});
  }
  Pa_Terminate();
  return out;
}

Playback::Playback(PlaybackConfig config, Log log, ReportSink on_report)
    : config_(std::move(config)), log_(std::move(log)), on_report_(std::move(on_report)), stage_(config_.jitter) {
  std::string error;
  if (const PaError err = quiet_initialize(); err != paNoError) {
    status_ = std::string("playback off: PortAudio failed to start: ") + Pa_GetErrorText(err);
  } else {
    pa_initialised_ = true;
    if (!open_stream(error)) status_ = "playback off: " + error;
  }
  watchdog_ = std::thread([this] { watchdog(); });
}

Playback::~Playback() {
  stopping_ = true;
  wake_.release();
  watchdog_.join();
  // Drain a device that still calls back; abort one that stopped (draining it could wait forever).
  const auto calls = callbacks_.load();
  bool alive = false;
  for (int i = 0; i < 20 && !alive && running_ && !standby_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    alive = callbacks_.load() != calls;
  }
  close_stream(/*drain=*/alive);
  if (pa_initialised_) Pa_Terminate();
}

std::string Playback::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool Playback::open_stream(std::string& error) {
  const int device = find_device(config_.device, error);
  if (device == paNoDevice) return false;
  const PaDeviceInfo* info = Pa_GetDeviceInfo(device);
  PaStream* stream = nullptr;
  PaError err = paNoError;
  // Mono where the device takes it; otherwise stereo with the voice on both channels.
  for (int channels : {1, 2}) {
    PaStreamParameters out{};
    out.device = device;
    out.channelCount = channels;
    out.sampleFormat = paFloat32;
    // At the policy's lowest level, the device's own low latency, or two callbacks' worth where
    // that is less (smaller callbacks: PortAudio's ALSA buffer otherwise stays at the default).
    const double period_s = static_cast<double>(config_.frames_per_buffer) / audio_format::kSampleRate;
    out.suggestedLatency = buffer_policy_.latency_ms() > 0 ? buffer_policy_.latency_ms() / 1000.0
                                                          : std::min(info->defaultLowOutputLatency, 2 * period_s);
    err = Pa_OpenStream(&stream, nullptr, &out, audio_format::kSampleRate, static_cast<unsigned long>(config_.frames_per_buffer),
                        paNoFlag, &PlaybackCallback::run, this);
    if (err == paNoError) {
      channels_ = channels;
      break;
    }
  }
  if (err != paNoError) {
    error = std::string("cannot open '") + info->name + "': " + Pa_GetErrorText(err);
    return false;
  }
  output_latency_s_ = Pa_GetStreamInfo(stream)->outputLatency;
  heard_until_ = TimePoint{};  // no callback of this stream yet
  if ((err = Pa_StartStream(stream)) != paNoError) {
    Pa_CloseStream(stream);
    error = std::string("cannot start '") + info->name + "': " + Pa_GetErrorText(err);
    return false;
  }
  std::lock_guard lock(mutex_);
  stream_ = stream;
  status_ = std::string("playing through '") + info->name + "' (" + Pa_GetHostApiInfo(info->hostApi)->name +
            ", output latency " + std::to_string(static_cast<int>(output_latency_s_ * 1000 + 0.5)) + " ms)";
  running_ = true;
  return true;
}

void Playback::close_stream(bool drain, bool keep_running) {
  void* stream;
  {
    std::lock_guard lock(mutex_);
    stream = stream_;
    stream_ = nullptr;
    if (!keep_running) running_ = false;
  }
  if (stream) {
    if (drain) Pa_StopStream(static_cast<PaStream*>(stream));
    else Pa_AbortStream(static_cast<PaStream*>(stream));
    Pa_CloseStream(static_cast<PaStream*>(stream));
  }
  // The next stream's callback runs on a new thread.
  audio_thread_ = 0;
  priority_tried_ = false;
}

void Playback::reopen_stream() {
  // running_ stays true: the room keeps queueing the talk's packets for the new stream.
  // The device is calling back (its underruns asked for this): what it holds of the talk is heard.
  close_stream(/*drain=*/true, /*keep_running=*/true);
  std::string error;
  if (!open_stream(error)) {
    std::lock_guard lock(mutex_);
    running_ = false;
    status_ = "playback off: " + error;
  }
}

void Playback::note_command() noexcept {
  last_command_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

void Playback::wake_from_standby() noexcept {
  if (standby_.load() && !wake_posted_.exchange(true)) wake_.release();  // the watchdog reopens the device
}

void Playback::talk_started(TalkId talk_id) {
  note_command();
  if (!commands_.push(Command(TalkStart{talk_id}))) ++dropped_;
  wake_from_standby();
}

void Playback::packet(const AudioPacket& packet) {
  if (!running_) return;  // nobody would drain the queue
  note_command();
  if (!commands_.push(Command(packet))) ++dropped_;
  wake_from_standby();  // a talk's start taken by a device that was closing: its packets still wake it
}

void Playback::talk_ended(TalkId talk_id) {
  note_command();
  if (!commands_.push(Command(TalkEnd{talk_id}))) ++dropped_;
}

void Playback::finish_talk_report() noexcept {
  const auto& s = stage_.stats();
  current_.packets = static_cast<std::uint32_t>(s.played - stats_at_start_.played);
  current_.fec = static_cast<std::uint32_t>(s.fec - stats_at_start_.fec);
  current_.plc = static_cast<std::uint32_t>(s.plc - stats_at_start_.plc);
  current_.late = static_cast<std::uint32_t>(s.late - stats_at_start_.late);
  current_.skipped = static_cast<std::uint32_t>(s.discarded - stats_at_start_.discarded + s.stale - stats_at_start_.stale +
                                                s.over_budget - stats_at_start_.over_budget);
  current_.discarded = static_cast<std::uint32_t>(s.discarded - stats_at_start_.discarded);
  current_.over_budget = static_cast<std::uint32_t>(s.over_budget - stats_at_start_.over_budget);
  current_.stray = static_cast<std::uint32_t>(s.stale - stats_at_start_.stale);
  current_.late_played = static_cast<std::uint32_t>(s.late_played - stats_at_start_.late_played);
  current_.skipped_silence = static_cast<std::uint32_t>(s.skipped_silence - stats_at_start_.skipped_silence);
  current_.compressed_ms =
      static_cast<double>(s.compressed_samples - stats_at_start_.compressed_samples) / audio_format::kSamplesPerMs;
  current_.refused = static_cast<std::uint32_t>(s.wrong_span - stats_at_start_.wrong_span + s.misaligned -
                                                stats_at_start_.misaligned + s.duplicate - stats_at_start_.duplicate);
  current_.capture_to_playout_median_ms = capture_hist_.quantile_ms(0.5);
  current_.capture_to_playout_p99_ms = capture_hist_.quantile_ms(0.99);
  current_.arrival_to_playout_median_ms = arrival_hist_.quantile_ms(0.5);
  current_.arrival_to_playout_p99_ms = arrival_hist_.quantile_ms(0.99);
  current_.capture_to_arrival_median_ms = transit_hist_.quantile_ms(0.5);
  current_.capture_to_arrival_p99_ms = transit_hist_.quantile_ms(0.99);
  current_.underruns = static_cast<std::uint32_t>(underruns_.load(std::memory_order_relaxed) - underruns_at_start_);
  current_.output_latency_ms =
      1000 * (device_latency_n_ ? device_latency_sum_s_ / static_cast<double>(device_latency_n_) : output_latency_s_);
  current_.cancelled_db = canceller_.found_db();
  reports_.push(current_);
}

LiveMeter Playback::live_meter() const noexcept {
  LiveMeter m;
  m.talk_id = meter_talk_.load(std::memory_order_relaxed);
  m.level_db = meter_level_db_.load(std::memory_order_relaxed);
  m.played = meter_played_.load(std::memory_order_relaxed);
  m.late = meter_late_.load(std::memory_order_relaxed);
  if (m.talk_id != 0 && feedback_talk_.load(std::memory_order_relaxed) == m.talk_id) {
    m.feedback_db = feedback_db_.load(std::memory_order_relaxed);
    m.feedback_warning = feedback_warn_.load(std::memory_order_relaxed);
    m.lowered_db = static_cast<float>(gain_db(protect_gain_.load(std::memory_order_relaxed)));
    m.notches = notches_.count();
    m.echo_cancelled = echo_talk_.load(std::memory_order_acquire) == m.talk_id && echo_offset_.load(std::memory_order_relaxed) != kNoEcho;
  }
  return m;
}

int Playback::render(float* out, unsigned long frames, double device_latency_s, bool underflow) noexcept {
  if (device_latency_s < 0) device_latency_s = output_latency_s_;
  // On the room's clock, as the packets' arrival and capture times are (clock_gettime through the
  // vDSO: no lock, no allocation).
  const TimePoint now = Clock::now();
  // The device ran dry: the host API says so, or this callback came after the last buffer had
  // been heard (a stall of the whole process leaves no flag through PulseAudio's ALSA plugin).
  // Counted while a talk plays: a gap in silence is heard by nobody (and a new stream's first
  // seconds through PulseAudio have some).
  const auto slack = std::chrono::milliseconds(2);
  if (stage_.active() && (underflow || (heard_until_ != TimePoint{} && now > heard_until_ + slack)))
    underruns_.fetch_add(1, std::memory_order_relaxed);
  heard_until_ = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                           device_latency_s + static_cast<double>(frames) / audio_format::kSampleRate));
  callbacks_.fetch_add(1, std::memory_order_relaxed);
  static_assert(std::is_same_v<pthread_t, unsigned long>);
  if (audio_thread_.load(std::memory_order_relaxed) == 0) audio_thread_.store(::pthread_self(), std::memory_order_release);
  while (commands_.read_available() > 0) {
    Command& c = commands_.front();  // in place: no copy of the packet
    if (const auto* packet = std::get_if<AudioPacket>(&c)) {
      stage_.put(*packet);
    } else if (const auto* start = std::get_if<TalkStart>(&c)) {
      // The talk before has ended but still plays out what it holds (its last words, 100 ms or
      // so): it finishes first, and this start and the packets behind it wait in the queue.
      if (stage_.draining()) break;
      if (stage_.active()) finish_talk_report();
      stage_.start_talk(start->talk_id);
      stats_at_start_ = stage_.stats();
      capture_hist_.reset();
      arrival_hist_.reset();
      transit_hist_.reset();
      current_ = TalkReport{};
      device_latency_sum_s_ = 0;
      device_latency_n_ = 0;
      current_.talk_id = start->talk_id;
      level_.reset();
      if (config_.feedback == FeedbackMode::protect) canceller_.reset();
      underruns_at_start_ = underruns_.load(std::memory_order_relaxed);
      was_active_ = true;
      talking_.store(true, std::memory_order_relaxed);
    } else if (const auto* end = std::get_if<TalkEnd>(&c)) {
      stage_.end_talk(end->talk_id);
    }
    commands_.pop();
  }

  const auto us = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); };
  // Protection against feedback moves smoothly (a 50 ms time constant), the professor's volume
  // within one buffer.
  const float protect_target = protect_gain_.load(std::memory_order_relaxed);
  applied_protect_ = protect_target + (applied_protect_ - protect_target) *
                                          std::exp(-static_cast<float>(frames) / (0.05f * audio_format::kSampleRate));
  const float gain_from = applied_gain_, gain_to = gain_.load(std::memory_order_relaxed) * applied_protect_;
  applied_gain_ = gain_to;
  const float gain_step = frames > 0 ? (gain_to - gain_from) / static_cast<float>(frames) : 0.0f;
  for (unsigned long done = 0; done < frames;) {
    const std::size_t n = std::min<std::size_t>(frames - done, mono_.size());
    ring_.fill(stage_, mono_.data(), n, [&](const JitterStage::Step& step, std::size_t queued, float* pcm) {
      if (step.kind != JitterStage::Step::played) return;
      // The speakers taken back out of the talk, once the watchdog has engaged the canceller (the
      // estimate then sees what is left of the loop).
      if (echo_talk_.load(std::memory_order_acquire) == current_.talk_id)
        if (const std::int64_t offset = echo_offset_.load(std::memory_order_relaxed); offset != kNoEcho)
          canceller_.cancel(pcm, step.samples, static_cast<std::int64_t>(step.timestamp) + offset);
      if (config_.feedback != FeedbackMode::off && step.arrival != TimePoint{})
        feedback_block(false, pcm, step.samples, step.timestamp, step.arrival);
      // The step's first sample leaves the speaker after what is already queued plus the device's latency.
      const TimePoint playout = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                          device_latency_s + static_cast<double>(done + queued) / static_cast<double>(audio_format::kSampleRate)));
      const bool captured = step.capture != TimePoint{}, arrived = step.arrival != TimePoint{};
      if (captured) capture_hist_.add(us(playout - step.capture));
      device_latency_sum_s_ += device_latency_s;
      ++device_latency_n_;
      if (arrived) arrival_hist_.add(us(playout - step.arrival));
      if (captured && arrived) transit_hist_.add(us(step.arrival - step.capture));
    });
    if (config_.feedback == FeedbackMode::protect) notches_.process(mono_.data(), n);
    if (was_active_) level_.process(mono_.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const float v = mono_[i] * (gain_from + gain_step * static_cast<float>(done + i + 1));
      played_mono_[i] = v;
      for (int ch = 0; ch < channels_; ++ch) out[(done + i) * channels_ + ch] = v;
    }
    // What left the speaker, for the feedback estimate: while a talk plays, dated when it is heard.
    if (config_.feedback != FeedbackMode::off && stage_.active()) {
      const TimePoint heard = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                        device_latency_s + static_cast<double>(done) / audio_format::kSampleRate));
      for (std::size_t at = 0; at < n; at += JitterStage::kMaxStep) {
        const int k = static_cast<int>(std::min<std::size_t>(n - at, JitterStage::kMaxStep));
        feedback_block(true, played_mono_.data() + at, k, played_position_ + static_cast<std::int64_t>(at),
                       heard + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(at) / audio_format::kSampleRate)));
      }
    }
    if (config_.feedback == FeedbackMode::protect) canceller_.played(played_mono_.data(), n);  // in step with played_position_
    played_position_ += static_cast<std::int64_t>(n);
    done += n;
  }
  if (was_active_) {
    const auto& s = stage_.stats();
    const auto since_start = [&](std::uint64_t now_count, std::uint64_t at_start) {
      return static_cast<std::uint32_t>(now_count - at_start);
    };
    const std::uint32_t dropped_late = since_start(s.late, stats_at_start_.late) +
                                       since_start(s.discarded, stats_at_start_.discarded) +
                                       since_start(s.over_budget, stats_at_start_.over_budget);
    // A late packet that still plays is counted late when it arrives and played when it plays.
    const std::uint32_t played = since_start(s.played, stats_at_start_.played),
                        late_played = since_start(s.late_played, stats_at_start_.late_played);
    meter_played_.store(played > late_played ? played - late_played : 0, std::memory_order_relaxed);
    meter_late_.store(dropped_late + late_played, std::memory_order_relaxed);
    meter_level_db_.store(level_.peak_db(), std::memory_order_relaxed);
    meter_talk_.store(stage_.active() ? current_.talk_id : 0, std::memory_order_relaxed);
  }
  if (was_active_ && !stage_.active()) {
    was_active_ = false;
    talking_.store(false, std::memory_order_relaxed);
    finish_talk_report();
  }
  return paContinue;
}

void Playback::feedback_block(bool played, const float* pcm, int samples, std::int64_t position, TimePoint first) noexcept {
  if (feedback_blocks_.write_available() == 0) return;  // the estimate misses a stretch; nothing else does
  FeedbackBlock b;
  b.played = played;
  b.talk_id = current_.talk_id;
  b.samples = std::min(samples, JitterStage::kMaxStep);
  b.position = position;
  b.first_us = std::chrono::duration_cast<std::chrono::microseconds>(first.time_since_epoch()).count();
  std::copy_n(pcm, b.samples, b.pcm.begin());
  feedback_blocks_.push(b);
}

void Playback::watch_feedback(std::chrono::steady_clock::time_point now) {
  FeedbackBlock b;
  while (feedback_blocks_.pop(b)) {
    if (b.talk_id != estimating_talk_) {  // a new talk: its own timelines, its own protection
      // The talk before keeps its figures until its report comes (it may come after this talk's
      // first audio).
      previous_talk_ = estimating_talk_;
      previous_feedback_ = talk_feedback_;
      estimating_talk_ = b.talk_id;
      estimator_.reset();
      tracker_.reset();
      talk_feedback_ = {};
      ringing_.reset();
      notches_.clear();
      echo_offset_.store(kNoEcho, std::memory_order_relaxed);
      echo_talk_.store(b.talk_id, std::memory_order_release);  // after the offset: never the last talk's

      protect_gain_.store(1.0f, std::memory_order_relaxed);
      feedback_warn_.store(false, std::memory_order_relaxed);
      feedback_db_.store(-99.0f, std::memory_order_relaxed);
      feedback_talk_.store(b.talk_id, std::memory_order_relaxed);
      next_estimate_ = now + std::chrono::milliseconds(500);
    }
    if (b.played) estimator_.played(b.pcm.data(), b.samples, b.position, b.first_us);
    else estimator_.captured(b.pcm.data(), b.samples, b.position, b.first_us);
    // A loop ringing at one frequency: a notch there, at once (protect only).
    auto& f = talk_feedback_;
    if (b.played && config_.feedback == FeedbackMode::protect && f.notched < NotchBank::kSlots) {
      if (const double hz = ringing_.feed(b.pcm.data(), static_cast<std::size_t>(b.samples)); hz > 0) {
        notches_.set(f.notched, static_cast<float>(hz));
        f.notched_hz[static_cast<std::size_t>(f.notched++)] = static_cast<float>(hz);
        char text[128];
        std::snprintf(text, sizeof text, "talk %u: the speakers rang at %.0f Hz: notched out", static_cast<unsigned>(b.talk_id), hz);
        log_(false, text);
      }
    }
  }
  if (estimating_talk_ == 0 || !talking_.load(std::memory_order_relaxed) || now < next_estimate_) return;
  next_estimate_ = now + std::chrono::milliseconds(500);
  const double professor_db = gain_db(gain_.load(std::memory_order_relaxed));
  // Looks taken at another volume are not comparable: a voice that resembles what was played
  // seems the louder coupling the lower the volume was. A real one shows again within three looks.
  if (std::abs(professor_db - last_professor_db_) > 3) tracker_.reset();
  last_professor_db_ = professor_db;
  const auto raw = estimator_.estimate();
  const auto decided = tracker_.update(raw);
  float protect = protect_gain_.load(std::memory_order_relaxed);
  const double protect_db = gain_db(protect);
  auto& f = talk_feedback_;
  const auto warn = [&] {
    if (f.warned) return;
    f.warned = true;
    feedback_warn_.store(true, std::memory_order_relaxed);
  };
  // A lowering is put to the test two looks later, once the estimate's whole second was played at
  // the lower level: sound that came back from the speakers came back lower with it, so the
  // coupling holds; a talker whose voice only resembled what was played is as loud as before, so
  // the coupling seems to rise by what was taken off. Then it was not feedback: the playback goes
  // back to where it was before that lowering (full volume, for the talk's first), and that delay
  // is not looked at again in this talk.
  if (f.verify_in > 0 && --f.verify_in == 0) {
    if (raw.valid && std::abs(raw.delay_ms - f.lowered_delay_ms) < 5 &&
        raw.coupling_db > f.lowered_coupling_db + f.lowered_by_db / 2) {
      estimator_.exclude(f.lowered_delay_ms);
      tracker_.reset();
      protect = f.protect_before;
      f.disproved = true;
      char text[200];
      std::snprintf(text, sizeof text, "talk %u: not feedback after all (the sound %.0f ms later did not fall with the playback); back to %s",
                    static_cast<unsigned>(estimating_talk_), f.lowered_delay_ms,
                    protect >= 0.99f ? "full volume" : ("the playback lowered " + std::to_string(static_cast<int>(std::lround(-gain_db(protect)))) + " dB").c_str());
      log_(false, text);
      protect_gain_.store(protect, std::memory_order_relaxed);
      return;
    }
    // It was the speakers (or nothing showed either way): the last resort, cancelling them from
    // the talk, aligned to the room's delay as found. The playback stays lowered: with it lowered,
    // any resemblance of the voice to what was played looks loud to the estimate, so nothing
    // tells how far the canceller would let it come back up.
    if (config_.feedback == FeedbackMode::protect && f.cancel_delay_ms < 0) {
      f.cancel_delay_ms = f.lowered_delay_ms;
      char text[200];
      std::snprintf(text, sizeof text, "talk %u: the playback is lowered against the speakers: cancelling them from the talk (%.0f ms late)",
                    static_cast<unsigned>(estimating_talk_), f.cancel_delay_ms);
      log_(false, text);
    }
  }
  if (decided.coupling_db > -99) {
    feedback_db_.store(static_cast<float>(decided.coupling_db), std::memory_order_relaxed);
    if (decided.coupling_db > f.max_db) {
      f.max_db = decided.coupling_db;
      f.delay_ms = decided.delay_ms;
    }
    // The loop as it stands: the room's coupling times what the server now plays at.
    const double loop_db = decided.coupling_db + professor_db + protect_db;
    // Warned at once; with protection, when the playback is lowered (below).
    if (loop_db > kWarnAboveDb && config_.feedback == FeedbackMode::warn) warn();
    if (config_.feedback == FeedbackMode::protect && f.verify_in == 0) {
      // Lowered at once as far as the loop needs; raised back 2 dB a look once it is well below.
      if (loop_db > kProtectAboveDb) {
        const double wanted_db = std::max(std::min(0.0, kProtectToDb - decided.coupling_db - professor_db), -30.0);
        if (wanted_db < protect_db - 1) {
          // Told at once: the student's page then stops its gain control from making up for the
          // lowering (it is in the loop too), which is also what lets the test below tell.
          if (loop_db > kWarnAboveDb) warn();
          f.verify_in = 2;
          f.lowered_coupling_db = decided.coupling_db;
          f.lowered_delay_ms = decided.delay_ms;
          f.lowered_by_db = protect_db - wanted_db;
          f.protect_before = protect;
        }
        protect = static_cast<float>(std::pow(10.0, wanted_db / 20));
      } else if (loop_db < kProtectToDb - 3 && f.cancel_delay_ms < 0) {
        // (Once the speakers are cancelled, the estimate sees what the canceller left, not the
        // room: the playback only goes further down.)
        protect = std::min(1.0f, protect * 1.259f);
      }
    }
  }
  // Nothing seen is not a reason to come back up: a loop that died away under the lowering is
  // silent too, and would start again. The next talk starts at full volume.
  if (protect < 0.99f && f.lowered_db > -0.5) {  // the talk's first lowering: said when it happens
    char text[160];
    std::snprintf(text, sizeof text, "talk %u: the speakers come back through the microphone at %.0f dB, %.0f ms late: playback lowered %.0f dB",
                  static_cast<unsigned>(estimating_talk_), f.max_db, f.delay_ms, -gain_db(protect));
    log_(false, text);
  }
  // The canceller follows the streams' placings (a device that ran dry moves what was played). Not
  // the delays the estimate finds later: with the playback lowered, any resemblance of the voice to
  // what was played looks loud to it.
  if (f.cancel_delay_ms >= 0) {
    const std::int64_t current = echo_offset_.load(std::memory_order_relaxed);
    std::int64_t offset = 0;
    if (estimator_.echo_offset(f.cancel_delay_ms, offset) && (current == kNoEcho || std::abs(offset - current) > 2 * 48))
      echo_offset_.store(offset, std::memory_order_relaxed);  // within 2 ms: the datings' jitter, left alone
  }
  protect_gain_.store(protect, std::memory_order_relaxed);
  f.lowered_db = std::min(f.lowered_db, gain_db(protect));
}

void Playback::watchdog() {
  // Named, as the callback thread is below, so top -H and /proc say which thread spends what.
  ::pthread_setname_np(::pthread_self(), "ptt-watchdog");
  std::uint64_t last_callbacks = callbacks_.load();
  auto last_progress = std::chrono::steady_clock::now();
  auto last_attempt = last_progress;
  // ALSA's recovered underruns, summarised once per 10 s in which there were any.
  std::uint64_t alsa_reported = alsa_underruns_recovered();
  auto alsa_since = last_progress;
  note_command();  // quiet counts from now
  std::string priority_outcome;
  while (!stopping_) {
    (void)wake_.try_acquire_for(std::chrono::milliseconds(200));
    wake_posted_ = false;
    if (stopping_) break;
    // Standing by: a queued command (a talk starting) reopens the device. The callback is not
    // running, so reading the queue's fill from here is safe.
    if (standby_ && commands_.read_available() > 0) {
      std::string error;
      const auto t0 = std::chrono::steady_clock::now();
      if (open_stream(error)) {
        standby_ = false;
        buffer_policy_.reopened(std::chrono::steady_clock::now());
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
        char text[80];
        std::snprintf(text, sizeof text, "audio device reopened for a talk in %.1f ms", static_cast<double>(us) / 1000.0);
        log_(false, text);
      } else {
        {
          std::lock_guard status_lock(mutex_);
          running_ = false;
          status_ = "playback off: " + error;
        }
        standby_ = false;
        log_(true, status());
      }
      last_attempt = last_progress = std::chrono::steady_clock::now();
      last_callbacks = callbacks_.load();
    }
    watch_feedback(std::chrono::steady_clock::now());
    TalkReport r;
    while (reports_.pop(r)) {
      if (r.talk_id != 0 && (r.talk_id == estimating_talk_ || r.talk_id == previous_talk_)) {
        const TalkFeedback& f = r.talk_id == estimating_talk_ ? talk_feedback_ : previous_feedback_;
        r.feedback_db = f.max_db;
        r.feedback_delay_ms = f.delay_ms;
        r.feedback_lowered_db = f.lowered_db;
        r.feedback_warned = f.warned;
        r.notched_hz = f.notched_hz;
        r.cancelled_delay_ms = f.cancel_delay_ms;
      }
      if (on_report_) on_report_(r);
    }
    if (!priority_tried_ && running_) {
      if (const unsigned long thread = audio_thread_.load(std::memory_order_acquire); thread != 0) {
        priority_tried_ = true;
        ::pthread_setname_np(static_cast<pthread_t>(thread), "ptt-audio");
        // Said once, and again only if it changes: a device reopened for each talk asks each time.
        if (std::string outcome = raise_priority(static_cast<pthread_t>(thread)); outcome != priority_outcome) {
          log_(outcome.find("real-time priority") == std::string::npos, outcome);
          priority_outcome = std::move(outcome);
        }
      }
    }
    const auto now = std::chrono::steady_clock::now();
    // A quiet spell: no talk playing, nothing queued for a while. The device closes; the stream
    // costs callbacks every 5 ms (and PulseAudio's relay thread with them) for nobody.
    const auto quiet = now.time_since_epoch() - std::chrono::steady_clock::duration(last_command_ns_.load(std::memory_order_relaxed));
    if (running_ && !standby_ && config_.standby_after_s > 0 && !talking_.load() && quiet >= std::chrono::seconds(config_.standby_after_s)) {
      close_stream(/*drain=*/true, /*keep_running=*/true);
      standby_ = true;
      log_(false, "audio device closed after " + std::to_string(config_.standby_after_s) +
                      " s without a talk; the next talk reopens it");
      // A talk that started while it closed: the queue holds it, and the next pass reopens.
      if (commands_.read_available() > 0) wake_.release();
      continue;
    }
    if (running_ && !standby_) {
      if (const auto change = buffer_policy_.update(underruns_.load(std::memory_order_relaxed), now,
                                                    talking_.load(std::memory_order_relaxed))) {
        const auto ms = [&](int level) {
          const int wanted = OutputBufferPolicy::kLevelsMs[static_cast<std::size_t>(level)];
          return wanted ? std::to_string(wanted) + " ms" : std::string("the device's lowest latency");
        };
        reopen_stream();
        log_(false, change->to_level > change->from_level
                        ? "output buffer grown to " + ms(change->to_level) + " after " + std::to_string(change->underruns) +
                              " underruns in 10 s (the audio thread was late): " + status()
                        : "output buffer back to " + ms(change->to_level) + ": no underrun for 60 s: " + status());
        last_progress = std::chrono::steady_clock::now();
      }
    }
    if (now - alsa_since >= std::chrono::seconds(10)) {
      if (const auto alsa = alsa_underruns_recovered(); alsa != alsa_reported) {
        log_(false, "the audio device ran dry " + std::to_string(alsa - alsa_reported) +
                       " times in the last 10 s (ALSA recovered each): the laptop is busy or the audio thread was late");
        alsa_reported = alsa;
      }
      alsa_since = now;
    }
    const auto calls = callbacks_.load();
    if (calls != last_callbacks) {
      last_callbacks = calls;
      last_progress = now;
    }
    if (standby_) last_progress = now;
    if (pa_initialised_ && running_ && !standby_ && now - last_progress > std::chrono::seconds(2)) {
      log_(true, "audio device stalled (no callback for 2 s); reopening it");
      close_stream(/*drain=*/false);
      last_attempt = now - std::chrono::seconds(10);
    }
    if (pa_initialised_ && !running_ && now - last_attempt > std::chrono::seconds(5)) {
      last_attempt = now;
      // The callback is not running: the jitter stage is safe to touch from here.
      commands_.consume_all([](const Command&) {});
      std::string error;
      if (open_stream(error)) {
        log_(false, status());
        last_progress = std::chrono::steady_clock::now();
      } else {
        std::lock_guard status_lock(mutex_);
        status_ = "playback off: " + error;
      }
    }
  }
}

}  // namespace ptt::server
