// Starting and stopping the real programs an end-to-end test needs (pulseaudio, ptt-server, parec),
// and waiting for ptt-server's --ready-file.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace ptt::test {

class ChildProcess {
 public:
  // Runs argv[0] (searched in PATH) with extra environment entries ("NAME=value", replacing an
  // inherited NAME); its stdout and stderr go to `output_file` (appended).
  ChildProcess(std::vector<std::string> argv, const std::vector<std::string>& extra_env, const std::string& output_file) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string_view entry(*e);
      const auto name = entry.substr(0, entry.find('=') + 1);
      if (std::none_of(extra_env.begin(), extra_env.end(), [&](const std::string& x) { return x.starts_with(name); }))
        env.emplace_back(entry);
    }
    for (const auto& e : extra_env) env.push_back(e);
    std::vector<char*> args, envp;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    const int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ~ChildProcess() { stop(SIGKILL); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_status_ = status;
      return false;
    }
    return true;
  }
  // Sends sig and waits (up to 5 s, then SIGKILL). Returns the wait status.
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, sig);
    for (int i = 0; i < 500; ++i) {
      if (!running()) return exit_status_;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &exit_status_, 0);
    pid_ = -1;
    return exit_status_;
  }

 private:
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

// What ptt-server writes to its --ready-file once it is bound and its audio flows.
struct ServerReady {
  std::uint16_t port = 0;
  bool https = false;
  pid_t pid = -1;
};

// Waits (up to `within`) for `server` to write its --ready-file at `path`; nullopt if the server
// exits first, the time runs out or the file is not what the server writes.
inline std::optional<ServerReady> wait_for_ready_file(const std::string& path, ChildProcess& server,
                                                      std::chrono::milliseconds within) {
  for (auto end = std::chrono::steady_clock::now() + within; std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(std::chrono::milliseconds(10))) {
    // The server renames a complete file into place: once the file is there, it is whole.
    if (std::ifstream in(path); in) {
      const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.value("port", nlohmann::json()).is_number_unsigned() ||
          !j.value("https", nlohmann::json()).is_boolean() || !j.value("pid", nlohmann::json()).is_number_unsigned())
        return std::nullopt;
      return ServerReady{j["port"].get<std::uint16_t>(), j["https"].get<bool>(), j["pid"].get<pid_t>()};
    }
    if (!server.running()) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace ptt::test
