// ptt-server never serves the network as root: a flaw anywhere in it would then be a flaw with
// full control of the professor's laptop. Started by root (e.g. through sudo), it becomes an
// ordinary user once the port is bound and the certificate loaded, before it reads a request.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ptt::server {

// Switches this process (every id: real, effective, saved; groups; HOME, USER, LOGNAME and
// XDG_RUNTIME_DIR for the sound server) to `user` for good. Returns false with `error` set when the
// user does not exist, is root, or the switch fails or could be undone.
bool become_user(const std::string& user, std::string& error);

// Gives files made as root (the generated certificate and key) to `user`, so a later start as that
// user can read them. Returns false with `error` set on failure.
bool give_to_user(const std::vector<std::filesystem::path>& files, const std::string& user, std::string& error);

}  // namespace ptt::server
