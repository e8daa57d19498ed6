#include "ptt/text.hpp"

#include <algorithm>
#include <array>
#include <iterator>

namespace ptt::text {
namespace {

struct Range {
  char32_t lo, hi;  // inclusive
};

template <std::size_t N>
bool in(const std::array<Range, N>& sorted, char32_t cp) noexcept {
  auto it = std::upper_bound(sorted.begin(), sorted.end(), cp, [](char32_t c, const Range& r) { return c < r.lo; });
  return it != sorted.begin() && cp <= std::prev(it)->hi;
}

// Unicode 15: general category Cf, Other_Default_Ignorable_Code_Point, Variation_Selector, and
// U+2800. Sorted, not overlapping.
constexpr std::array<Range, 25> kInvisible = {{
    {0x00AD, 0x00AD},    // soft hyphen
    {0x034F, 0x034F},    // combining grapheme joiner
    {0x0600, 0x0605},    // Arabic number signs (format characters)
    {0x061C, 0x061C},    // Arabic letter mark (bidi)
    {0x06DD, 0x06DD},    // Arabic end of ayah
    {0x070F, 0x070F},    // Syriac abbreviation mark
    {0x0890, 0x0891},    // Arabic pound/piastre mark above
    {0x08E2, 0x08E2},    // Arabic disputed end of ayah
    {0x115F, 0x1160},    // Hangul choseong/jungseong fillers
    {0x17B4, 0x17B5},    // Khmer inherent vowels
    {0x180B, 0x180F},    // Mongolian free variation selectors, vowel separator
    {0x200B, 0x200F},    // zero-width space, ZWNJ, ZWJ, LRM, RLM
    {0x202A, 0x202E},    // LRE, RLE, PDF, LRO, RLO
    {0x2060, 0x206F},    // word joiner, invisible operators, LRI, RLI, FSI, PDI, deprecated formats
    {0x2800, 0x2800},    // braille pattern blank
    {0x3164, 0x3164},    // Hangul filler
    {0xFE00, 0xFE0F},    // variation selectors
    {0xFEFF, 0xFEFF},    // zero-width no-break space (BOM)
    {0xFFA0, 0xFFA0},    // halfwidth Hangul filler
    {0xFFF0, 0xFFFB},    // reserved default-ignorable, interlinear annotation controls
    {0x110BD, 0x110BD},  // Kaithi number sign
    {0x110CD, 0x110CD},  // Kaithi number sign above
    {0x13430, 0x1343F},  // Egyptian hieroglyph format controls
    {0x1BCA0, 0x1BCA3},  // shorthand format controls
    {0x1D173, 0x1D17A},  // musical symbol format controls
}};
constexpr Range kTagsAndSelectors = {0xE0000, 0xE0FFF};  // tags, variation selectors supplement, reserved

constexpr std::array<Range, 299> kCombiningMarks = {{
#include "text_tables.inc"
}};

constexpr bool is_sorted_disjoint(const Range* r, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (r[i].lo > r[i].hi || (i > 0 && r[i - 1].hi >= r[i].lo)) return false;
  return true;
}
static_assert(is_sorted_disjoint(kInvisible.data(), kInvisible.size()));
static_assert(kInvisible.back().hi < kTagsAndSelectors.lo);
static_assert(is_sorted_disjoint(kCombiningMarks.data(), kCombiningMarks.size()));

}  // namespace

CodePoint decode_utf8(std::string_view s, std::size_t i) noexcept {
  if (i >= s.size()) return {};
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return {c, 1};
  std::size_t n;
  char32_t cp;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
  else return {};  // continuation byte, C0/C1 (overlong two-byte), F5..FF
  if (s.size() - i < n) return {};
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return {};
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return {};
  return {cp, n};
}

bool is_valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = decode_utf8(s, i).size;
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::size_t code_point_count(std::string_view s) noexcept {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size(); ++count) i += std::max<std::size_t>(decode_utf8(s, i).size, 1);
  return count;
}

std::string_view first_code_points(std::string_view s, std::size_t count) noexcept {
  std::size_t i = 0;
  for (std::size_t seen = 0; i < s.size() && seen < count; ++seen)
    i += std::max<std::size_t>(decode_utf8(s, i).size, 1);
  return s.substr(0, i);
}

std::size_t last_code_point_start(std::string_view s) noexcept {
  // Forwards, not backwards over continuation bytes: the same walk as everything else, so a stray
  // continuation byte is one character here as it is there.
  std::size_t last = 0;
  for (std::size_t i = 0; i < s.size(); i += std::max<std::size_t>(decode_utf8(s, i).size, 1)) last = i;
  return last;
}

bool is_control(char32_t cp) noexcept { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

bool is_line_break(char32_t cp) noexcept {
  return (cp >= 0x0A && cp <= 0x0D) || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

bool is_horizontal_space(char32_t cp) noexcept {
  return cp == 0x09 || cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

bool is_invisible(char32_t cp) noexcept {
  return in(kInvisible, cp) || (cp >= kTagsAndSelectors.lo && cp <= kTagsAndSelectors.hi);
}

bool is_combining_mark(char32_t cp) noexcept { return in(kCombiningMarks, cp); }

std::optional<std::string> normalise_display_name(std::string_view raw) {
  std::string out;
  out.reserve(std::min(raw.size(), 4 * kMaxNameCodePoints));
  std::size_t count = 0;
  bool space_pending = false;  // a space seen after the first kept character, written before the next
  bool visible = false;
  for (std::size_t i = 0; i < raw.size();) {
    const CodePoint c = decode_utf8(raw, i);
    if (c.size == 0) return std::nullopt;
    const std::string_view bytes = raw.substr(i, c.size);
    i += c.size;
    if (is_invisible(c.value)) continue;  // removed; spaces on either side still collapse
    if (is_horizontal_space(c.value)) {   // before the control test: tab is a space here
      space_pending = !out.empty();
      continue;
    }
    if (is_control(c.value) || is_line_break(c.value)) return std::nullopt;
    if (space_pending) {
      out += ' ';
      ++count;
      space_pending = false;
    }
    out += bytes;
    visible = visible || !is_combining_mark(c.value);
    if (++count > kMaxNameCodePoints) return std::nullopt;
  }
  if (!visible) return std::nullopt;  // also the empty name: nothing kept at all
  return out;
}

}  // namespace ptt::text
