// ptt-server: the professor's program. Parses the command line, starts the server, prints where
// students should go (with a QR code), and runs until Ctrl-C / SIGTERM.
#include <CLI/CLI.hpp>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <thread>

#include "audio_pipeline.hpp"
#include "privileges.hpp"
#include "server.hpp"
#include "terminal_qr.hpp"
#include "web_assets.hpp"

namespace {

std::string random_token() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof bytes);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char b : bytes) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

// --ready-file: written to a temporary name and renamed, so a reader never sees half of it.
bool write_ready_file(const std::filesystem::path& path, std::uint16_t port, std::uint16_t help_port, bool https,
                      std::string& error) {
  const std::filesystem::path temporary = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << "{\"port\":" << port << ",\"https\":" << (https ? "true" : "false") << ",\"pid\":" << ::getpid()
        << ",\"help_port\":" << help_port << "}\n";
    if (!out.flush()) {
      error = "cannot write " + temporary.string();
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    error = ec.message();
    std::filesystem::remove(temporary, ec);
    return false;
  }
  return true;
}

// This run's recordings folder: its local date and time, e.g. 2026-12-02_14-05 (a restart within
// the minute carries on in the same folder, its serials continuing).
std::string class_folder_name(std::time_t now) {
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d_%H-%M", &tm);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ptt::server;
  ServerConfig config;
  int max_talk_s = 120, silence_s = 15, handshake_s = 10, idle_s = 15, auto_approve_s = 0;
  bool queue = false, moderated = false;
  std::string log_level = "info";
  std::filesystem::path recordings, web_root, wasm_dir;
  std::string run_as;
  PlaybackConfig playback_config;
  bool list_devices = false, no_playback = false, allow_root = false;

  CLI::App app{"Smart Push-to-Talk server: students open the printed URL and hold a button to talk."};
  // scripts/run passes defaults; a repeated option (the professor's own) wins.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--bind", config.bind_address, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  app.add_option("--port", config.port, "TCP port for HTTPS and WebSocket (0: any free port)")->capture_default_str();
  app.add_flag("--plain-http", [&](std::int64_t) { config.tls = false; },
               "Serve plain HTTP instead of HTTPS: only for localhost or behind a TLS reverse proxy, since "
               "browsers allow the microphone on a LAN address only over HTTPS");
  app.add_option("--cert", config.cert_file, "TLS certificate chain (PEM); default: one made in --state-dir");
  app.add_option("--key", config.key_file, "TLS private key (PEM), with --cert");
  bool no_help_page = false;
  app.add_flag("--no-help-page", no_help_page,
               "Give students the https address itself, not the plain-HTTP page that first explains the "
               "certificate warning (the default with the server's own certificate; off with --cert)");
  config.help_port = 8080;
  app.add_option("--help-port", config.help_port,
                 "Plain-HTTP port of that help page, the address students are given (0: on the HTTPS port "
                 "only; a taken port falls back to that too)")->capture_default_str();
  app.add_option("--state-dir", config.state_dir, "Folder for the generated certificate and key (owner-only)")->capture_default_str();
  app.add_option("--ready-file", config.ready_file,
                 "Once the port is bound and audio plays (or right away without playback), write "
                 "{\"port\":N,\"https\":true|false,\"pid\":P,\"help_port\":H} to this file, for scripts and tests to wait on");
  app.add_option("--web-root", web_root,
                 "Developers only: serve the page from this folder instead of the copy built into the server");
  app.add_option("--wasm-dir", wasm_dir,
                 "Developers only: serve /wasm/ from this folder instead of the copy built into the server");
  app.add_option("--user", run_as, "Started as root: become this user once the port is bound (./scripts/run under sudo "
                                   "passes the user behind sudo)");
  app.add_flag("--allow-root", allow_root, "Run as root anyway (not recommended: see --user)");
  app.add_option("--allow-origin", config.extra_origins, "Extra page origin allowed to open the WebSocket (reverse proxy)");
  app.add_option("--room-code", config.room.room_code, "Code students must enter to join (default: none)")
      ->check(CLI::Validator(
          [](std::string& code) {  // a join's room code is at most 32 bytes (docs/PROTOCOL.md)
            return code.size() <= ptt::protocol::kMaxRoomCodeBytes ? std::string() : std::string("at most 32 bytes");
          },
          "at most 32 bytes"));
  app.add_option("--admin-token", config.admin_token,
                 "The professor's token for the console and /admin/ (at least 16 characters; default: random, printed)")
      ->check(CLI::Validator(
          [](std::string& token) {  // nothing throttles guesses: the token's length is the defence
            return token.size() >= 16 ? std::string() : std::string("at least 16 characters (a short token is guessed in seconds)");
          },
          "at least 16 characters"));
  auto* queue_flag = app.add_flag("--queue", queue, "Let denied students wait in line and be granted in order");
  app.add_flag("--moderated", moderated, "Every request waits in line until the professor grants it (admin API)")
      ->excludes(queue_flag);
  app.add_option("--auto-approve", auto_approve_s,
                 "Moderated mode: grant the first in line after this many seconds on a free floor, with a countdown "
                 "the student sees (0: only you grant; the console changes it live)")
      ->capture_default_str()->check(CLI::Range(0, 60));
  app.add_option("--max-talk", max_talk_s, "Longest talk in seconds before the floor is revoked")->capture_default_str()->check(CLI::Range(1, 3600));
  app.add_option("--silence-release", silence_s, "Revoke the floor after this many seconds in which the holder sent no speech (0: never)")->capture_default_str()->check(CLI::Range(0, 3600));
  app.add_option("--max-clients", config.room.max_clients, "Most connections at once")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--max-clients-per-address", config.room.max_clients_per_address,
                 "Most connections from one network address, loopback aside (0: no cap, e.g. behind a reverse proxy)")
      ->capture_default_str()->check(CLI::Range(0, 100000));
  app.add_option("--handshake-timeout", handshake_s, "Seconds a new connection has to finish its TLS handshake and each HTTP request")
      ->capture_default_str()->check(CLI::Range(1, 300));
  app.add_option("--idle-timeout", idle_s, "Seconds of silence (not even a pong) before a student's connection is closed")
      ->capture_default_str()->check(CLI::Range(2, 3600));
  app.add_option("--threads", config.threads, "I/O threads")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--broadcast-slice", config.room.broadcast_slice,
                 "Students sent a new floor state per turn of the I/O thread, so replies to others interleave (0: all at once)")
      ->capture_default_str()->check(CLI::Range(0, 1000000));
  app.add_option("--recordings", recordings,
                 "Folder for recordings: each run (a class) gets a folder in it named by its date and time, "
                 "with one <name>-<serial>.opus per talk and an index.csv (default: none)");
  bool no_class_folders = false;
  app.add_flag("--no-class-folders", no_class_folders, "Record straight into --recordings, not a folder per run");
  app.add_option("--device", playback_config.device,
                 "Output device: its name, part of its name, or its index (see --list-devices); default: the system's");
  app.add_flag("--list-devices", list_devices, "List the output devices and exit");
  app.add_flag("--no-playback", no_playback, "Do not play audio (floor control and recordings only)");
  app.add_option("--frames-per-callback", playback_config.frames_per_buffer,
                 "Audio device callback size in 48 kHz frames: smaller plays sooner and costs more CPU "
                 "(bench/output_buffer.mjs measures both)")
      ->capture_default_str()->check(CLI::Range(64, 1920));
  app.add_option("--standby-after", playback_config.standby_after_s,
                 "Close the audio device after this many seconds without a talk, saving the CPU its callbacks cost; "
                 "the next talk reopens it within a few ms (0: keep it open)")
      ->capture_default_str()->check(CLI::Range(0, 86400));
  std::string feedback = "off";
  app.add_option("--feedback", feedback,
                 "Sound from the speakers coming back through the talking student's microphone: off; warn (tell the "
                 "student to step back); protect (that, lower the playback before it can howl, notch out a ringing tone and cancel the speakers from the talk)")
      ->capture_default_str()->check(CLI::IsMember({"off", "warn", "protect"}));
  app.add_option("--jitter-margin", playback_config.jitter.margin_ms,
                 "Extra playout delay in ms on top of what the jitter buffer measures (FEC needs 20)")
      ->capture_default_str()->check(CLI::Range(0, 200));  // more is skipped as excess delay anyway
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  playback_config.feedback = feedback == "off" ? FeedbackMode::off : feedback == "warn" ? FeedbackMode::warn : FeedbackMode::protect;
  const bool root = ::geteuid() == 0;
  if (root && run_as.empty() && !allow_root) {
    std::fprintf(stderr,
                 "ptt-server will not run as root: it answers anyone on the network, and as root any flaw in it would "
                 "hand them this whole laptop.\n"
                 "Start it as your own user (./scripts/run asks for sudo only to install packages), or through sudo "
                 "(./scripts/run then passes --user with the user behind sudo), or with --user NAME.\n"
                 "To run it as root anyway, add --allow-root.\n");
    return 1;
  }
  if (!run_as.empty() && !root) {
    std::fprintf(stderr, "--user needs the server to be started as root; it already runs as an ordinary user\n");
    return 1;
  }
  if (std::string error; !run_as.empty() && !give_to_user({}, run_as, error)) {  // the user exists and is not root
    std::fprintf(stderr, "--user %s: %s\n", run_as.c_str(), error.c_str());
    return 1;
  }
  if (list_devices) {
    std::string error;
    const auto devices = Playback::list_devices(&error);
    if (devices.empty()) std::printf("No output devices%s%s\n", error.empty() ? "" : ": ", error.c_str());
    for (const auto& d : devices)
      std::printf("%3d %s%s  [%s, %d ch, %.0f Hz, %.1f ms]\n", d.index, d.name.c_str(), d.is_default ? " (default)" : "",
                  d.host_api.c_str(), d.max_output_channels, d.default_sample_rate, d.default_low_latency_ms);
    return 0;
  }
  // Each student is an open socket: lift the soft limit on open files (1,024 on many systems) to the hard one.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &files);
      ::getrlimit(RLIMIT_NOFILE, &files);
    }
    if (files.rlim_cur != RLIM_INFINITY && config.room.max_clients + 64 > files.rlim_cur)
      spdlog::warn("--max-clients is {} but this process may open only {} files: past about {} students, new "
                   "connections wait (raise the limit with ulimit -n)", config.room.max_clients,
                   static_cast<unsigned long long>(files.rlim_cur), static_cast<unsigned long long>(files.rlim_cur) - 64);
  }
  config.help_page = config.tls && config.cert_file.empty() && !no_help_page;
  // One line per event a professor cares about (the session log's, and joins, leaves, refusals).
  config.room.on_event = [](const ptt::server::LogEntry& e) {
    std::string line = e.student.empty() ? e.event : e.student + " " + e.event;
    if (!e.detail.empty()) line += ": " + e.detail;
    if (e.duration_ms >= 0) line += fmt::format(" after {:.1f} s", static_cast<double>(e.duration_ms) / 1000);
    spdlog::info("{}", line);
  };
  config.room.floor.max_talk = std::chrono::seconds(max_talk_s);
  config.room.floor.mode = moderated ? ptt::server::FloorMode::moderated
                           : queue   ? ptt::server::FloorMode::queue
                                     : ptt::server::FloorMode::first_come;
  config.room.floor.silence = std::chrono::seconds(silence_s);
  config.room.floor.auto_approve = std::chrono::seconds(auto_approve_s);
  config.handshake_timeout = std::chrono::seconds(handshake_s);
  config.room.idle_timeout = std::chrono::seconds(idle_s);
  const bool token_generated = config.admin_token.empty();
  if (token_generated) config.admin_token = random_token();

  try {
    if (!web_root.empty() || !wasm_dir.empty()) spdlog::warn("serving files from a developer folder instead of the built-in page");
    config.static_files = std::make_shared<const StaticFiles>(embedded_web_assets(), web_root, wasm_dir);
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 1;
  }

  // Bound and holding its certificate first, so a port below 1024 or a root-only key still work
  // under --user; nothing is read from the network before the switch.
  auto log = [](bool error, const std::string& message) {
    if (error) spdlog::error("{}", message);
    else spdlog::info("{}", message);
  };
  TalkTimelineConfig timeline;
  timeline.max_talk = config.room.floor.max_talk;
  AudioPipeline pipeline(nullptr, nullptr, timeline, log);
  config.recordings = &pipeline;
  boost::asio::io_context ioc(config.threads);
  std::unique_ptr<Server> server;
  try {
    server = std::make_unique<Server>(ioc, config, &pipeline);
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 1;
  }
  if (!run_as.empty()) {
    std::string error;
    if (server->certificate_generated() &&
        !give_to_user({config.state_dir, config.state_dir / "cert.pem", config.state_dir / "key.pem"}, run_as, error))
      spdlog::warn("the new certificate stays root's ({}): a later start as {} makes its own", error, run_as);
    if (!become_user(run_as, error)) {
      spdlog::error("cannot start: cannot become user {}: {}", run_as, error);
      return 1;
    }
    spdlog::info("running as user {}", run_as);
  } else if (root) {
    spdlog::warn("running as root (--allow-root): any flaw in the server is a flaw with full control of this laptop");
  }

  std::unique_ptr<Recorder> recorder;
  if (!recordings.empty()) {
    try {
      if (!no_class_folders) recordings /= class_folder_name(std::time(nullptr));
      recorder = std::make_unique<Recorder>(recordings, log);
      spdlog::info("recording every talk into {} (index.csv lists them)", recordings.string());
    } catch (const std::exception& e) {
      spdlog::error("cannot start: {}", e.what());
      return 1;
    }
  }
  std::unique_ptr<Playback> playback;
  if (!no_playback) {
    playback = std::make_unique<Playback>(playback_config, log, [](const TalkReport& r) {
      if (r.packets == 0) {  // a grant let go at once, or nothing arrived in time: no figures to give
        spdlog::info("talk {} played nothing{}", r.talk_id,
                     r.refused ? fmt::format(" ({} packets refused)", r.refused) : std::string(": no audio came"));
        return;
      }
      // The professor's line: what was heard and whether any of it was lost; the figures behind it at
      // debug level (--log-level debug), for the benches and for whoever tunes the audio.
      const std::uint64_t dropped = r.late + r.skipped;
      // Feedback from the room, when there was any worth a word.
      std::string feedback_note;
      if (r.feedback_warned || r.feedback_lowered_db < -0.5)
        feedback_note = fmt::format("; the speakers came back through the microphone at {:.0f} dB, {:.0f} ms late{}{}",
                                    r.feedback_db, r.feedback_delay_ms, r.feedback_warned ? ", student told to step back" : "",
                                    r.feedback_lowered_db < -0.5 ? fmt::format(", playback lowered {:.0f} dB", -r.feedback_lowered_db) : "");
      for (const float hz : r.notched_hz)
        if (hz > 0) feedback_note += fmt::format("{} {:.0f} Hz", feedback_note.find("notched") == std::string::npos ? "; ringing notched out at" : ",", hz);
      if (r.cancelled_delay_ms >= 0)
        feedback_note += r.cancelled_db > -99 ? fmt::format("; speakers cancelled from the talk (found at {:.0f} dB)", r.cancelled_db)
                                              : std::string("; echo canceller engaged, found nothing to take out");
      spdlog::info("talk {} played: {} packets{}{}", r.talk_id, r.packets,
                   r.plc == 0 && dropped == 0 ? std::string(", none lost")
                                              : fmt::format("; {} concealed, {} dropped", r.plc, dropped),
                   feedback_note);
      // A latency the talk's packets did not carry (no capture time, say) is unknown, not -1.
      const auto ms = [](double v) { return v < 0 ? std::string("unknown") : fmt::format("{:g}", v); };
      spdlog::debug("talk {} audio: {} packets ({} of them after their time), {} recovered by FEC, {} concealed; caught up by "
                   "skipping {} silent packets and compressing {:.0f} ms of speech; dropped {} late, {} to cut delay ({} by the jitter "
                   "buffer, {} over the delay budget, {} stray); "
                   "capture-to-playout median {} ms, p99 {} ms (incl. {:.0f} ms device latency); arrival-to-playout median {} ms, "
                   "p99 {} ms; capture-to-arrival median {} ms, p99 {} ms; {} output underruns; "
                   "feedback coupling {:.1f} dB at {:.0f} ms, playback lowered {:.1f} dB",
                   r.talk_id, r.packets, r.late_played, r.fec, r.plc, r.skipped_silence, r.compressed_ms, r.late, r.skipped,
                   r.discarded, r.over_budget, r.stray,
                   ms(r.capture_to_playout_median_ms),
                   ms(r.capture_to_playout_p99_ms), r.output_latency_ms, ms(r.arrival_to_playout_median_ms),
                   ms(r.arrival_to_playout_p99_ms), ms(r.capture_to_arrival_median_ms), ms(r.capture_to_arrival_p99_ms), r.underruns,
                   r.feedback_db, r.feedback_delay_ms, -r.feedback_lowered_db);
      if (r.refused > 0)
        spdlog::warn("talk {}: {} packets refused: neither 10 nor 20 ms, unlike the talk's first, off its grid or repeated (not sent by our page)",
                     r.talk_id, r.refused);
    });
    if (playback->running()) spdlog::info("{}", playback->status());
    else spdlog::warn("{}; floor control and recordings still work, and the device is retried", playback->status());
  } else {
    spdlog::info("playback off (--no-playback)");
  }
  pipeline.attach(std::move(playback), std::move(recorder));

  if (server->certificate_generated()) spdlog::info("made a new TLS certificate in {}", config.state_dir.string());
  const auto urls = server->join_urls();
  std::printf("\nStudents, open:\n");
  for (const auto& u : urls) std::printf("  %s\n", u.c_str());
  if (config.tls && config.help_page)
    std::printf("(A short page explains the browser's certificate warning, then links to %s)\n",
                server->student_urls().front().c_str());
  else if (config.tls && config.cert_file.empty())
    std::printf("(The browser warns about the certificate the first time: it is this server's own. Accept it to continue.)\n");
  std::printf("\n%s\n", terminal_qr(urls.front(), ::isatty(STDOUT_FILENO) != 0).c_str());
  if (!config.room.room_code.empty()) std::printf("Room code: %s\n", config.room.room_code.c_str());
  if (token_generated) std::printf("Admin token (this run): %s\n", config.admin_token.c_str());
  // The console's link carries the token after '#': the browser sends it only in the login request.
  // It is the page's own address on this laptop (https, no help page, no room code).
  const std::string console_url = server->student_urls().back() + "console.html";
  if (token_generated)
    std::printf("Your console (on this laptop): %s#token=%s\n", console_url.c_str(), config.admin_token.c_str());
  else
    std::printf("Your console (on this laptop): %s (log in with your admin token)\n", console_url.c_str());
  std::printf("Floor: %s; longest talk %d s. Ctrl-C stops.\n\n",
              moderated ? (auto_approve_s ? "moderated (the first in line gets the floor after a countdown unless you act)"
                                          : "moderated (students wait in line until you grant them)")
              : queue   ? "first come, first served, with a queue"
                        : "first come, first served",
              max_talk_s);
  std::fflush(stdout);

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  boost::asio::steady_timer shutdown_timer(ioc);
  auto shut_down = [&] {
    server->stop();
    // Give the close frames a moment to leave, then end.
    shutdown_timer.expires_after(std::chrono::milliseconds(300));
    shutdown_timer.async_wait([&](const boost::system::error_code&) { ioc.stop(); });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: closing connections", sig);
    shut_down();
  });

  // Ready: bound (above) and, with playback on, the device's callbacks coming in real time, so a
  // talk from now on is heard. Not the first callback: the device's buffer is filled by a burst of
  // them at once, and PulseAudio's ALSA plugin then holds a new stream about 1.5 s before it asks
  // for more. So the count must grow over two 50 ms polls in a row (a device whose periods are
  // longer than that is never one a classroom laptop has). Without a device (or with --no-playback)
  // the bound port alone is ready.
  int exit_code = 0;
  boost::asio::steady_timer ready_timer(ioc);
  std::uint64_t callbacks_seen = 0;
  int polls_growing = -1;  // the first poll only notes the count
  std::function<void()> when_ready = [&] {
    if (const Playback* playing = pipeline.playback(); playing && playing->running()) {
      const std::uint64_t callbacks = playing->callbacks();
      polls_growing = polls_growing >= 0 && callbacks > callbacks_seen ? polls_growing + 1 : 0;
      callbacks_seen = callbacks;
      if (polls_growing < 2) {
        ready_timer.expires_after(std::chrono::milliseconds(50));
        ready_timer.async_wait([&](const boost::system::error_code& ec) {
          if (!ec) when_ready();
        });
        return;
      }
    }
    if (std::string error; !write_ready_file(config.ready_file, server->port(), server->help_port(), config.tls, error)) {
      spdlog::error("cannot write --ready-file {}: {}", config.ready_file.string(), error);
      exit_code = 1;
      shut_down();
    }
  };
  if (!config.ready_file.empty()) boost::asio::post(ioc, when_ready);

  std::vector<std::thread> threads;
  for (int i = 1; i < config.threads; ++i) threads.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  server.reset();
  spdlog::info("stopped");
  return exit_code;
}
