// Turning a student's display name into a recording file name that is safe on every file system
// and can never leave the recordings folder, and numbering talks <name>-<serial>.opus.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace ptt::server {

inline constexpr std::size_t kMaxFileStemBytes = 64;

// Path separators, reserved punctuation (<>:"/\|?*), control characters, line breaks and invalid
// UTF-8 become '_'; invisible characters (ptt::text::is_invisible: bidi controls, zero-width ones)
// are dropped and other spaces become ' '; leading dots, spaces, dashes and = + @ and trailing dots
// and spaces go, so the stem never starts with '-', '.' or a spreadsheet formula's sign; Windows device names (CON, NUL, COM1...) get
// a '_' prefix; the result is cut to kMaxFileStemBytes on a character boundary; nothing left:
// "student". Letters of any script and emoji are kept.
std::string safe_file_stem(std::string_view name);

// The serial for the next talk of `stem`: one more than the highest <stem>-<n>.opus in folder.
unsigned next_serial(const std::filesystem::path& folder, const std::string& stem);

// Creates folder/<stem>-<serial>.opus exclusively (never overwriting), trying higher serials if
// needed; returns the path, or an empty path with `error` set.
std::filesystem::path create_recording_file(const std::filesystem::path& folder, const std::string& stem,
                                            int& fd, std::string& error);

}  // namespace ptt::server
