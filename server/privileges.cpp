#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace ptt::server {
namespace {

bool lookup(const std::string& user, passwd& pw, std::vector<char>& buffer, std::string& error) {
  buffer.resize(16384);
  passwd* found = nullptr;
  if (::getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    error = "no user named '" + user + "'";
    return false;
  }
  if (pw.pw_uid == 0) {
    error = "'" + user + "' is root";
    return false;
  }
  return true;
}

}  // namespace

bool give_to_user(const std::vector<std::filesystem::path>& files, const std::string& user, std::string& error) {
  std::vector<char> buffer;
  passwd pw{};
  if (!lookup(user, pw, buffer, error)) return false;
  for (const auto& f : files) {
    if (::chown(f.c_str(), pw.pw_uid, pw.pw_gid) != 0) {
      error = "chown " + f.string() + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

bool become_user(const std::string& user, std::string& error) {
  std::vector<char> buffer;
  passwd pw{};
  if (!lookup(user, pw, buffer, error)) return false;
  auto failed = [&](const char* what) {
    error = std::string(what) + " failed: " + std::strerror(errno);
    return false;
  };
  if (::initgroups(pw.pw_name, pw.pw_gid) != 0) return failed("initgroups");
  if (::setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) != 0) return failed("setresgid");
  if (::setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) != 0) return failed("setresuid");
  if (::setuid(0) == 0 || ::geteuid() == 0) {
    error = "root could be regained after the switch";
    return false;
  }
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  ::setenv("HOME", pw.pw_dir, 1);
  ::setenv("USER", pw.pw_name, 1);
  ::setenv("LOGNAME", pw.pw_name, 1);
  // The user's own sound server, not root's.
  const std::string runtime = "/run/user/" + std::to_string(pw.pw_uid);
  struct stat st {};
  if (::stat(runtime.c_str(), &st) == 0 && st.st_uid == pw.pw_uid) ::setenv("XDG_RUNTIME_DIR", runtime.c_str(), 1);
  else ::unsetenv("XDG_RUNTIME_DIR");
  return true;
}

}  // namespace ptt::server
