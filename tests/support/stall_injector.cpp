// The contention rig the tests and the benches share: freezes chosen processes (SIGSTOP, then
// SIGCONT) for bursts at random, seeded moments, and can keep cores busy with spinning threads at
// normal priority, as a lecture recorder or a video call would. The same seed gives the same
// schedule.
//
//   ptt_stall_injector [--seed N] [--duty 0.2] [--burst-ms 50] [--hog THREADS] [--seconds S] TARGET...
//
// A TARGET is a pid, or tree:PID for the process and all its descendants as they are at each burst
// (a browser starts renderers as it goes). Each target has its own schedule. Runs until --seconds
// pass or SIGTERM/SIGINT; every process it stopped is continued before it exits. It prints one
// line per target: bursts, time frozen and the share of the time that was.
#include <CLI/CLI.hpp>

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> stop{false};
void on_signal(int) { stop = true; }

// The process and every descendant, from /proc (each task's parent in /proc/PID/stat).
std::vector<pid_t> tree(pid_t root) {
  std::vector<std::pair<pid_t, pid_t>> parent_of;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
    parent_of.emplace_back(static_cast<pid_t>(std::stoi(name)), static_cast<pid_t>(ppid));
  }
  std::vector<pid_t> out{root};
  for (std::size_t i = 0; i < out.size(); ++i)
    for (const auto& [pid, ppid] : parent_of)
      if (ppid == out[i] && std::find(out.begin(), out.end(), pid) == out.end()) out.push_back(pid);
  return out;
}

struct Target {
  pid_t pid = 0;
  bool whole_tree = false;
  std::mt19937 rng;
  std::chrono::steady_clock::time_point next_change;
  bool frozen = false;
  std::vector<pid_t> stopped;
  int bursts = 0;
  std::chrono::steady_clock::duration frozen_for{};
  std::chrono::steady_clock::time_point frozen_at;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Freezes processes for random bursts (SIGSTOP/SIGCONT) and keeps cores busy: the tests' contention rig."};
  unsigned seed = 1;
  double duty = 0.2, burst_ms = 50, seconds = 0;
  int hog = 0;
  std::vector<std::string> targets;
  app.add_option("--seed", seed, "seed of the schedule (each target adds its index)");
  app.add_option("--duty", duty, "share of the time each target is frozen")->check(CLI::Range(0.0, 0.9));
  app.add_option("--burst-ms", burst_ms, "length of each freeze")->check(CLI::Range(1.0, 10000.0));
  app.add_option("--hog", hog, "threads spinning at normal priority")->check(CLI::Range(0, 64));
  app.add_option("--seconds", seconds, "stop after this long (0: at SIGTERM or SIGINT)")->check(CLI::NonNegativeNumber);
  app.add_option("targets", targets, "PID, or tree:PID for it and its descendants");
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::vector<std::thread> hogs;
  for (int i = 0; i < hog; ++i)
    hogs.emplace_back([] {
      std::uint64_t x = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        x = x * 6364136223846793005u + 1;  // work the optimiser cannot remove: x is used below
        if (x == 0) stop = false;
      }
    });

  const auto start = std::chrono::steady_clock::now();
  const auto burst = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double, std::milli>(burst_ms));
  // Gaps between bursts are exponential, with the mean that makes the bursts `duty` of the time.
  const double mean_gap_ms = duty > 0 ? burst_ms * (1 - duty) / duty : 0;
  std::vector<Target> list;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    Target t;
    std::string spec = targets[i];
    if (spec.rfind("tree:", 0) == 0) {
      t.whole_tree = true;
      spec = spec.substr(5);
    }
    try {
      t.pid = static_cast<pid_t>(std::stoi(spec));
    } catch (const std::exception&) {
      std::fprintf(stderr, "not a pid: %s\n", targets[i].c_str());
      return 2;
    }
    t.rng.seed(seed + static_cast<unsigned>(i));
    list.push_back(std::move(t));
  }
  auto gap = [&](Target& t) {
    std::exponential_distribution<double> d(1.0 / std::max(mean_gap_ms, 1e-3));
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double, std::milli>(d(t.rng)));
  };
  for (auto& t : list) t.next_change = start + gap(t);

  auto thaw = [](Target& t, std::chrono::steady_clock::time_point now) {
    for (pid_t p : t.stopped) ::kill(p, SIGCONT);
    t.stopped.clear();
    if (t.frozen) t.frozen_for += now - t.frozen_at;
    t.frozen = false;
  };
  while (!stop && (seconds <= 0 || std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds))) {
    if (duty <= 0 || list.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    for (auto& t : list) {
      if (now < t.next_change) continue;
      if (t.frozen) {
        thaw(t, now);
        t.next_change = now + gap(t);
      } else {
        t.stopped = t.whole_tree ? tree(t.pid) : std::vector<pid_t>{t.pid};
        std::erase_if(t.stopped, [](pid_t p) { return ::kill(p, SIGSTOP) != 0; });
        t.frozen = true;
        t.frozen_at = now;
        ++t.bursts;
        t.next_change = now + burst;
      }
    }
    auto wake = now + std::chrono::milliseconds(20);
    for (const auto& t : list) wake = std::min(wake, t.next_change);
    std::this_thread::sleep_until(wake);
  }
  const auto end = std::chrono::steady_clock::now();
  for (auto& t : list) thaw(t, end);
  stop = true;
  for (auto& h : hogs) h.join();
  const double total_s = std::chrono::duration<double>(end - start).count();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const double frozen_s = std::chrono::duration<double>(list[i].frozen_for).count();
    std::printf("%s: %d bursts of %.0f ms, frozen %.2f s of %.2f s (%.1f %%)\n", targets[i].c_str(), list[i].bursts, burst_ms,
                frozen_s, total_s, total_s > 0 ? 100 * frozen_s / total_s : 0.0);
  }
  return 0;
}
