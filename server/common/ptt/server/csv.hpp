// One field of an RFC 4180 CSV line, safe to open in a spreadsheet: quoted when it holds a comma,
// a quote or a line break, and a leading = + - @ (or tab, CR) gets a ' so the sheet shows a
// student's name as text rather than running it as a formula.
#pragma once

#include <string>
#include <string_view>

namespace ptt::server {

inline std::string csv_field(std::string_view v) {
  std::string out;
  if (!v.empty() && (v.front() == '=' || v.front() == '+' || v.front() == '-' || v.front() == '@' ||
                     v.front() == '\t' || v.front() == '\r'))
    out += '\'';
  out.append(v);
  if (out.find_first_of(",\"\r\n") == std::string::npos) return out;
  std::string quoted = "\"";
  for (char c : out) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

}  // namespace ptt::server
