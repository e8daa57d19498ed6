// Floor responsiveness and scale, against the real ptt-server (started here on loopback, TLS, no
// playback) with the project's own load generator (bench/load_client: every connection on one
// io_context in this thread). Prints:
//   - press-to-grant and press-to-deny round trips, median and p99, with 1, 100 and 1,000 students
//     connected, and each reply's time when 100 students press together;
//   - the server's resident memory at 1,000 / 5,000 / 10,000 connected students (per connection);
//   - a storm of 1,000 simultaneous presses at 10,000 connected: grants (must be exactly one), p99
//     reply time, and the time until all 10,000 have the new floor state;
//   - the 1,000-connected round trips and the storm again against a second ptt-server that sends a
//     new floor state to everyone at once (--broadcast-slice 0), the baseline for the default slices.
// Each press-to-grant is made once the previous release has reached every student (a student presses
// a free floor); presses that land on a broadcast still going out are what the storm measures.
// Run: build/native/bench/floor_bench [--max-clients 10000]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <CLI/CLI.hpp>

#include "../tests/support/child_process.hpp"
#include "bench_common.hpp"
#include "load_client.hpp"

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace proto = ptt::protocol;
using ptt::bench::Clock;
using ptt::bench::LoadClient;
using ptt::bench::quantile;
using namespace std::chrono_literals;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// CPU time (user + system) a process has used, from /proc/<pid>/stat.
double cpu_ms(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (stat.rfind(')') == std::string::npos) return -1;  // gone, or no descriptor left to read it
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after the command name
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt: fields 3 to 13
  long utime = 0, stime = 0;
  fields >> utime >> stime;
  return 1000.0 * static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

class Bench {
 public:
  Bench(std::uint16_t port) : tls_(net::ssl::context::tls_client), port_(port) {
    tls_.set_verify_mode(net::ssl::verify_none);  // the server's own self-signed certificate
  }

  // Runs the event loop until pred() holds or the timeout passes.
  template <typename Pred>
  bool run_until(Pred pred, Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      if (Clock::now() > deadline) return false;
      if (ioc_.stopped()) ioc_.restart();
      ioc_.run_for(1ms);
    }
    return true;
  }
  void run_for(Clock::duration d) {
    run_until([] { return false; }, d);
  }

  // Connects and joins students until there are n, at most 200 handshakes in flight.
  bool grow(std::size_t n) {
    std::size_t next = clients_.size();
    while (clients_.size() < n) {
      const auto pending = [&] {
        std::size_t p = 0;
        for (std::size_t i = next; i < clients_.size(); ++i) p += !clients_[i]->seen().joined && !clients_[i]->seen().failed;
        return p;
      };
      while (clients_.size() < n && pending() < 200) {
        clients_.push_back(std::make_shared<LoadClient>(ioc_, tls_, port_, "Student " + std::to_string(clients_.size() + 1)));
        clients_.back()->start();
      }
      run_until([&] { return pending() < 100; }, 30s);
      while (next < clients_.size() && (clients_[next]->seen().joined || clients_[next]->seen().failed)) ++next;
    }
    const bool ok = run_until([&] {
      return std::all_of(clients_.begin(), clients_.end(), [](auto& c) { return c->seen().joined || c->seen().failed; });
    }, 60s);
    const auto failed = std::count_if(clients_.begin(), clients_.end(), [](auto& c) { return c->seen().failed || c->seen().closed; });
    if (!ok || failed) std::fprintf(stderr, "  %ld of %zu connections failed\n", static_cast<long>(failed), clients_.size());
    return ok && failed == 0;
  }

  // One press; returns the time to the grant (or deny), and leaves the floor free again.
  double press_once(LoadClient& c, bool expect_grant) {
    const auto t0 = Clock::now();
    c.send(proto::FloorRequest{});
    const bool answered = run_until([&] { return c.seen().granted_at > t0 || c.seen().denied_at > t0; }, 5s);
    const auto reply = std::max(c.seen().granted_at, c.seen().denied_at);
    if (!answered || (c.seen().granted_at > t0) != expect_grant) return -1;
    if (expect_grant) {
      const auto t1 = Clock::now();
      c.send(proto::FloorRelease{c.seen().talk_id});
      run_until([&] { return everyone_since(t1, &LoadClient::Seen::state_free_at); }, 5s);
    }
    return ms(reply - t0);
  }

  // Press-to-grant by `rotate` students in turn. Each student may press 2/s (burst 5), so with few
  // students the presses are paced.
  std::vector<double> grant_trips(std::size_t rotate, std::size_t samples) {
    std::vector<double> v;
    for (std::size_t i = 0; i < samples; ++i) {
      v.push_back(press_once(*clients_[i % rotate], true));
      run_for(rotate < 5 ? 550ms : 0ms);
    }
    return v;
  }
  // Press-to-deny by students 1..others in turn while student 0 holds the floor.
  std::vector<double> deny_trips(std::size_t others, std::size_t samples) {
    std::vector<double> v;
    auto& holder = *clients_[0];
    const auto t0 = Clock::now();
    holder.send(proto::FloorRequest{});
    run_until([&] { return holder.seen().granted_at > t0; }, 5s);
    run_until([&] { return everyone_since(t0, &LoadClient::Seen::state_taken_at); }, 5s);
    run_for(600ms);
    for (std::size_t i = 0; i < samples; ++i) {
      v.push_back(press_once(*clients_[1 + i % others], false));
      run_for(others < 5 ? 550ms : 0ms);
    }
    const auto t1 = Clock::now();
    holder.send(proto::FloorRelease{holder.seen().talk_id});
    run_until([&] { return holder.seen().state_free_at > t1; }, 5s);
    run_for(600ms);
    return v;
  }

  struct Storm {
    std::vector<double> replies;
    int grants = 0, denials = 0, unanswered = 0;
    double answered_ms = 0, server_cpu_ms = 0, client_cpu_ms = 0;  // first press to last reply
    double broadcast_ms = -1;  // grant to the last student's floor state
  };
  // `pressers` students press in the same instant; everyone connected should learn who holds the floor.
  Storm storm(std::size_t first, std::size_t pressers, pid_t server) {
    Storm s;
    const double server_cpu0 = cpu_ms(server), client_cpu0 = cpu_ms(::getpid());
    std::vector<Clock::time_point> sent(pressers);
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < pressers; ++i) {
      sent[i] = Clock::now();
      clients_[first + i]->send(proto::FloorRequest{});
    }
    auto answered = [&](std::size_t i) {
      const auto& seen = clients_[first + i]->seen();
      return seen.granted_at > t0 || seen.denied_at > t0;
    };
    run_until([&] {
      for (std::size_t i = 0; i < pressers; ++i)
        if (!answered(i)) return false;
      return true;
    }, 30s);
    s.answered_ms = ms(Clock::now() - t0);
    s.server_cpu_ms = cpu_ms(server) - server_cpu0;
    s.client_cpu_ms = cpu_ms(::getpid()) - client_cpu0;
    LoadClient* holder = nullptr;
    for (std::size_t i = 0; i < pressers; ++i) {
      auto& c = *clients_[first + i];
      if (c.seen().granted_at > t0) {
        ++s.grants;
        holder = &c;
        s.replies.push_back(ms(c.seen().granted_at - sent[i]));
      } else if (c.seen().denied_at > t0) {
        ++s.denials;
        s.replies.push_back(ms(c.seen().denied_at - sent[i]));
      } else {
        ++s.unanswered;
      }
    }
    if (holder) {
      const bool all = run_until([&] {
        return std::all_of(clients_.begin(), clients_.end(), [&](auto& c) { return c->seen().state_taken_at > t0; });
      }, 30s);
      if (all) {
        Clock::time_point last{};
        for (auto& c : clients_) last = std::max(last, c->seen().state_taken_at);
        s.broadcast_ms = ms(last - holder->seen().granted_at);
      }
      const auto t1 = Clock::now();
      holder->send(proto::FloorRelease{holder->seen().talk_id});
      run_until([&] { return holder->seen().state_free_at > t1; }, 10s);
    }
    run_for(600ms);
    return s;
  }

  std::size_t size() const { return clients_.size(); }
  // Every connected student has had a floor state of that kind since t.
  bool everyone_since(Clock::time_point t, Clock::time_point LoadClient::Seen::*when) const {
    return std::all_of(clients_.begin(), clients_.end(), [&](auto& c) { return c->seen().*when > t; });
  }

 private:
  net::io_context ioc_;
  net::ssl::context tls_;
  std::uint16_t port_;
  std::vector<std::shared_ptr<LoadClient>> clients_;
};

void print_row(const char* what, const std::vector<double>& v) {
  const auto bad = std::count(v.begin(), v.end(), -1.0);
  std::vector<double> ok;
  for (double x : v)
    if (x >= 0) ok.push_back(x);
  std::printf("  %-44s median %7.2f ms  p99 %7.2f ms  (n=%zu%s)\n", what, quantile(ok, 0.5), quantile(ok, 0.99), ok.size(),
              bad ? ", some unanswered or wrong" : "");
}

// ptt-server on loopback (TLS, no playback) with extra arguments; port 0 if it did not start.
struct Server {
  std::unique_ptr<ptt::test::ChildProcess> process;
  std::uint16_t port = 0;
  pid_t pid() const { return process->pid(); }
};
Server start_server(const std::string& binary, const fs::path& dir, std::size_t max_clients, int threads,
                    const std::vector<std::string>& extra) {
  fs::create_directories(dir);
  const auto log = dir / "server.log", ready = dir / "ready.json";
  std::vector<std::string> argv{binary, "--bind", "127.0.0.1", "--port", "0", "--help-port", "0", "--no-playback", "--max-clients",
                                std::to_string(max_clients + 100), "--state-dir", (dir / "state").string(),
                                "--threads", std::to_string(threads), "--ready-file", ready.string()};
  if (::geteuid() == 0) argv.push_back("--allow-root");
  argv.insert(argv.end(), extra.begin(), extra.end());
  Server server{std::make_unique<ptt::test::ChildProcess>(argv, std::vector<std::string>{}, log.string())};
  if (const auto up = ptt::test::wait_for_ready_file(ready.string(), *server.process, 10s)) server.port = up->port;
  if (!server.port) std::fprintf(stderr, "ptt-server did not start (see %s)\n", log.c_str());
  return server;
}

Bench::Storm print_storm(Bench& bench, pid_t server) {
  const auto s = bench.storm(0, 1000, server);
  std::printf("  grants %d (must be 1), denials %d, unanswered %d\n", s.grants, s.denials, s.unanswered);
  print_row("reply time", s.replies);
  // Who was busy while the replies came: a side near 100 % of the interval is what the p99 waits on.
  std::printf("  first press to last reply %.1f ms: ptt-server used %.0f ms of CPU, the load generator %.0f ms\n",
              s.answered_ms, s.server_cpu_ms, s.client_cpu_ms);
  std::printf("  %-44s %7.1f ms\n", "grant to floor state at every student", s.broadcast_ms);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Floor responsiveness and scale of ptt-server on loopback"};
  std::string server_binary = PTT_SERVER_BINARY;
  std::size_t max_clients = 10000;
  app.add_option("--server", server_binary, "ptt-server to start")->capture_default_str();
  app.add_option("--max-clients", max_clients, "Largest number of connected students (1,000 / 5,000 / this)")
      ->capture_default_str()->check(CLI::Range(1000, 15000));
  int server_threads = 1;
  app.add_option("--server-threads", server_threads, "ptt-server's I/O threads (its --threads)")->capture_default_str();
  bool baseline = true;
  app.add_flag("!--no-baseline", baseline, "Skip the second server that sends floor states to everyone at once");
  CLI11_PARSE(app, argc, argv);

  const auto dir = fs::temp_directory_path() / ("ptt-floor-bench-" + std::to_string(::getpid()));
  Server server = start_server(server_binary, dir / "sliced", max_clients, server_threads, {});
  if (!server.port) return 1;
  const long rss_start = rss_kib(server.pid());
  auto first = std::make_unique<Bench>(server.port);
  Bench& bench = *first;
  std::printf("Floor round trips over TLS on loopback (ptt-server pid %d with %d I/O thread%s, one load-generator thread)\n",
              server.pid(), server_threads, server_threads == 1 ? "" : "s");

  bench.grow(1);
  print_row("press-to-grant, 1 connected", bench.grant_trips(1, 200));
  bench.grow(2);
  print_row("press-to-deny, 2 connected (holder + 1)", bench.deny_trips(1, 200));
  for (std::size_t n : {std::size_t{100}, std::size_t{1000}}) {
    bench.grow(n);
    bench.run_for(1s);
    const std::size_t rotate = std::min<std::size_t>(n, 200) - 1;
    print_row(("press-to-grant, " + std::to_string(n) + " connected").c_str(), bench.grant_trips(rotate, 200));
    print_row(("press-to-deny, " + std::to_string(n) + " connected").c_str(), bench.deny_trips(rotate, 200));
    if (n == 100) {
      std::vector<double> together;
      int rounds_one_grant = 0;
      for (int round = 0; round < 5; ++round) {
        auto s = bench.storm(0, 100, server.pid());
        together.insert(together.end(), s.replies.begin(), s.replies.end());
        rounds_one_grant += s.grants == 1 && s.unanswered == 0;
      }
      print_row("reply, 100 pressing together (5 rounds)", together);
      std::printf("  %-44s %d of 5\n", "rounds with exactly one grant", rounds_one_grant);
    }
  }

  std::printf("\nScale: idle students connected (TLS, joined, answering pings)\n");
  std::vector<std::size_t> levels;
  for (std::size_t n : {std::size_t{1000}, std::size_t{5000}, max_clients})
    if (n <= max_clients && (levels.empty() || n > levels.back())) levels.push_back(n);
  for (std::size_t n : levels) {
    const auto t0 = Clock::now();
    const bool ok = bench.grow(n);
    const double connect_s = std::chrono::duration<double>(Clock::now() - t0).count();
    bench.run_for(3s);  // a few ping rounds
    const long rss = rss_kib(server.pid());
    std::printf("  %6zu connected%s: server RSS %7.1f MiB, %5.1f KiB per connection (connected in %.1f s)\n", n,
                ok ? "" : " (some failed)", rss / 1024.0, static_cast<double>(rss - rss_start) / static_cast<double>(n),
                connect_s);
  }

  std::printf("\nStorm: 1,000 press together with %zu connected\n", bench.size());
  const auto s = print_storm(bench, server.pid());
  std::printf("RESULT storm grants=%d p99_ms=%.2f broadcast_ms=%.1f\n", s.grants, quantile(s.replies, 0.99), s.broadcast_ms);
  first.reset();  // closes its 10,000 connections before the baseline opens as many again
  server.process->stop(SIGTERM);
  bool ok = s.grants == 1;

  if (baseline) {
    // The same measures against a server that sends each new floor state to everyone in one go.
    Server all_at_once = start_server(server_binary, dir / "all-at-once", max_clients, server_threads, {"--broadcast-slice", "0"});
    if (!all_at_once.port) return 1;
    Bench base(all_at_once.port);
    std::printf("\nBaseline: a second ptt-server (pid %d) with --broadcast-slice 0 (floor state to everyone at once)\n",
                all_at_once.pid());
    base.grow(1000);
    base.run_for(1s);
    print_row("press-to-grant, 1000 connected", base.grant_trips(199, 200));
    base.grow(max_clients);
    base.run_for(3s);
    std::printf("  storm, 1,000 press together with %zu connected:\n", base.size());
    const auto b = print_storm(base, all_at_once.pid());
    std::printf("  storm p99 with slices (above) against at once: %.2fx\n", quantile(s.replies, 0.99) / quantile(b.replies, 0.99));
    all_at_once.process->stop(SIGTERM);
    ok = ok && b.grants == 1;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return ok ? 0 : 1;
}
