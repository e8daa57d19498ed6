// UTF-8 and the display-name rules, shared by the server and the browser client (wasm).
//
// One decoder (decode_utf8) walks UTF-8 for everything here and for the server's name handling
// (recording file names, the room's "Ana (2)"). Nothing here throws except std::bad_alloc; every
// function is pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ptt::text {

// Longest display name, in code points after normalisation (docs/PROTOCOL.md §1).
inline constexpr std::size_t kMaxNameCodePoints = 32;

// One code point decoded from UTF-8.
struct CodePoint {
  char32_t value = U'\uFFFD';  // U+FFFD when the bytes are not valid UTF-8
  std::size_t size = 0;        // bytes it takes; 0 when the bytes at i start no valid sequence
};

// Decodes the code point whose sequence starts at s[i]. Strict: an overlong form, a UTF-16
// surrogate, anything above U+10FFFF, a stray continuation byte or a sequence cut short by the end
// of s gives size 0 (a caller that goes on skips one byte). i >= s.size() also gives size 0.
CodePoint decode_utf8(std::string_view s, std::size_t i) noexcept;

// True if s is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// Number of code points in s; each byte of an invalid sequence counts as one.
std::size_t code_point_count(std::string_view s) noexcept;

// The longest prefix of s holding at most `count` code points (counted as code_point_count does);
// never cuts a valid sequence.
std::string_view first_code_points(std::string_view s, std::size_t count) noexcept;

// Where the last code point of s starts (counted as code_point_count does: an invalid byte is one
// on its own); 0 for an empty s. s.substr(0, result) drops one whole character from the end.
std::size_t last_code_point_start(std::string_view s) noexcept;

// ---- character classes of the name rules ------------------------------------------------------

// C0 controls, DEL and C1 controls: U+0000-U+001F, U+007F-U+009F.
bool is_control(char32_t cp) noexcept;

// Line and paragraph breaks: LF, VT, FF, CR, NEL (U+0085), U+2028, U+2029.
bool is_line_break(char32_t cp) noexcept;

// Horizontal spaces: tab, U+0020 and the other Unicode White_Space characters that do not break
// lines: U+00A0, U+1680, U+2000-U+200A, U+202F, U+205F, U+3000.
bool is_horizontal_space(char32_t cp) noexcept;

// Characters that show nothing yet change what is shown or compared: bidirectional controls
// (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), every format character (general
// category Cf: zero-width space/joiners, word joiner, invisible operators, U+FEFF, soft hyphen,
// tag characters...), every other Default_Ignorable_Code_Point (variation selectors, Mongolian
// selectors and vowel separator, Hangul fillers, U+034F, Khmer inherent vowels) and the blank
// look-alike U+2800 (braille pattern blank). Names and file names drop them.
bool is_invisible(char32_t cp) noexcept;

// Combining marks (general categories Mn, Mc, Me: U+0300-U+036F and the like in every script).
bool is_combining_mark(char32_t cp) noexcept;

// ---- display names ----------------------------------------------------------------------------

// The display-name rules shared by client and server (docs/PROTOCOL.md §1), in this order:
//  1. raw must be valid UTF-8;
//  2. invisible characters (is_invisible) are removed;
//  3. horizontal spaces (is_horizontal_space, tab included) become U+0020, runs of them collapse
//     to one, and spaces at either end go;
//  4. any other control character or line break refuses the name;
//  5. what is left must hold 1..kMaxNameCodePoints code points, at least one of them neither a
//     space nor a combining mark.
// Returns the normalised name, or nullopt if it breaks a rule (the server answers `bad_name`).
// Names that differ only by removed characters or by spacing normalise to the same string, so the
// room's uniqueness rule tells them apart ("Ana" and "A\u200Bna" become "Ana" and "Ana (2)").
std::optional<std::string> normalise_display_name(std::string_view raw);

}  // namespace ptt::text
