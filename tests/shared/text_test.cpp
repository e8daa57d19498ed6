// The UTF-8 walker and the display-name rules (ptt/text.hpp): names that cannot deceive. Runs
// natively and under node (wasm): standard C++ only.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ptt/protocol.hpp"
#include "ptt/text.hpp"

using namespace ptt::text;

namespace {

std::string name_or_refused(std::string_view raw) { return normalise_display_name(raw).value_or("<refused>"); }

void expect_refused(const std::vector<std::string>& names) {
  for (const auto& n : names)
    EXPECT_EQ(name_or_refused(n), "<refused>") << "name bytes: " << ::testing::PrintToString(n);
}

}  // namespace

TEST(Utf8, DecoderReadsEachLengthAndRefusesBadForms) {
  auto at = [](std::string_view s, std::size_t i = 0) {
    const CodePoint c = decode_utf8(s, i);
    return std::pair<std::uint32_t, std::size_t>(c.value, c.size);
  };
  using P = std::pair<std::uint32_t, std::size_t>;
  EXPECT_EQ(at("A"), P(0x41, 1));
  EXPECT_EQ(at("\xc3\xa9"), P(0xE9, 2));              // é
  EXPECT_EQ(at("\xe2\x82\xac"), P(0x20AC, 3));        // €
  EXPECT_EQ(at("\xf0\x9f\x8e\xa4"), P(0x1F3A4, 4));   // 🎤
  EXPECT_EQ(at("x\xe2\x80\xae", 1), P(0x202E, 3));    // RLO, from the middle
  EXPECT_EQ(at("\xf4\x8f\xbf\xbf"), P(0x10FFFF, 4));  // the last code point
  for (std::string_view bad : {"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                               "\xe2\x82", "\x80", "\xff", "\xc3" "A"})
    EXPECT_EQ(decode_utf8(bad, 0).size, 0u) << ::testing::PrintToString(std::string(bad));
  EXPECT_EQ(decode_utf8("A", 1).size, 0u);  // past the end
  EXPECT_EQ(code_point_count("Zo\xc3\xab \xf0\x9f\x8e\xa4"), 5u);
  EXPECT_EQ(code_point_count("a\xff\xfe" "b"), 4u);  // each invalid byte counts as one
  EXPECT_EQ(first_code_points("\xc3\xb6\xc3\xb6\xc3\xb6", 2), "\xc3\xb6\xc3\xb6");
  EXPECT_EQ(first_code_points("\xf0\x9f\x8e\xa4x", 1), "\xf0\x9f\x8e\xa4");
  EXPECT_EQ(first_code_points("ab", 5), "ab");
  EXPECT_EQ(last_code_point_start(""), 0u);
  EXPECT_EQ(last_code_point_start("ab"), 1u);
  EXPECT_EQ(last_code_point_start("a\xf0\x9f\x8e\xa4"), 1u);  // a whole four-byte character
  EXPECT_EQ(last_code_point_start("\xc3\xb6\x80"), 2u);        // a stray continuation byte alone
}

TEST(Utf8, ProtocolNamesTheSameFunctions) {
  // Callers of ptt::protocol keep compiling and get the one implementation.
  EXPECT_EQ(ptt::protocol::normalise_display_name("A\xe2\x80\x8b" "na"), std::optional<std::string>("Ana"));
  EXPECT_FALSE(ptt::protocol::is_valid_utf8("\xed\xa0\x80"));
  EXPECT_EQ(ptt::protocol::kMaxNameCodePoints, 32u);
}

TEST(DisplayName, BidiControlsAreRemoved) {
  EXPECT_EQ(name_or_refused("\u202E" "Ana"), "Ana");                 // RLO: would show what follows reversed
  EXPECT_EQ(name_or_refused("Ana\u202Egnp.exe"), "Anagnp.exe");      // the classic extension trick
  EXPECT_EQ(name_or_refused("\u2066" "Ana\u2069"), "Ana");           // LRI ... PDI
  EXPECT_EQ(name_or_refused("\u2067" "Ana\u2068" "Ben\u2069"), "AnaBen");  // RLI, FSI
  EXPECT_EQ(name_or_refused("\u202A\u202B" "Ana\u202C\u202D"), "Ana");     // LRE, RLE, PDF, LRO
  EXPECT_EQ(name_or_refused("\u200E" "Ana\u200F\u061C"), "Ana");     // LRM, RLM, ALM
  // A right-to-left name needs no controls: it stays as typed.
  EXPECT_EQ(name_or_refused("\xd7\xa9\xd7\xa8\xd7\x94"), "\xd7\xa9\xd7\xa8\xd7\x94");  // שרה
  expect_refused({"\u202E", "\u202E\u202D\u202C", "\u2066\u2069", "\u2067\u2068\u2069", "\u200E\u200F\u061C",
                  " \u202E \u2066 "});
}

TEST(DisplayName, ZeroWidthOnlyNamesAreRefused) {
  expect_refused({
      "\u200B", "\u200C\u200D", "\u2060\u2061\u2062\u2063\u2064", "\uFEFF", "\u180E", "\u00AD", "\u034F",
      "\uFE00\uFE0F", "\U000E0100\U000E01EF",         // variation selectors
      "\U000E0001\U000E0041\U000E007F",               // tag characters
      "\u115F", "\u1160", "\u3164", "\uFFA0",         // Hangul fillers
      "\u2800",                                       // braille pattern blank
      "\u200B \u200B", "\u200B\u200C\u200D\u2060\uFEFF\u00AD\u3164\u2800",
  });
}

TEST(DisplayName, SpaceLikeOnlyNamesAreRefused) {
  expect_refused({"\u00A0", "\u00A0\u00A0\u00A0", "\u3000", "\u3000\u3000", "\u1680", "\u2000\u2005\u200A", "\u202F",
                  "\u205F", "\t", " \t \u00A0\u3000 "});
}

TEST(DisplayName, SpaceLikeCharactersFoldCollapseAndTrim) {
  EXPECT_EQ(name_or_refused("Ana\u00A0Silva"), "Ana Silva");
  EXPECT_EQ(name_or_refused("Ana \u3000\u2003 Silva"), "Ana Silva");
  EXPECT_EQ(name_or_refused("\u00A0\u3000Ana\u202F\u205F"), "Ana");
  EXPECT_EQ(name_or_refused("tab\tinside"), "tab inside");
  EXPECT_EQ(name_or_refused("Ana  \u200B  Silva"), "Ana Silva");  // a removed character does not split a run
  EXPECT_EQ(name_or_refused("Ana   Silva"), "Ana Silva");
}

TEST(DisplayName, CombiningMarkOnlyNamesAreRefused) {
  expect_refused({"\u0301", "\u0301\u0308\u0327", " \u0300 \u036F ", "\u20DD", "\u05B4", "\u064E\u0650",
                  "\u0E31\u0E48", "\u093F", "\u1AB0", "\u1DC0", "\uFE20", "\u200B\u0301\u2800"});
  // A mark on a letter is a name: é written as e + U+0301, and a Hindi name.
  EXPECT_EQ(name_or_refused("Jose\u0301"), "Jose\u0301");
  EXPECT_EQ(name_or_refused("\u0930\u0935\u093F"), "\u0930\u0935\u093F");  // रवि
  EXPECT_EQ(name_or_refused("\u0301" "A"), "\u0301" "A");
}

TEST(DisplayName, InvisibleCharactersCannotMakeALookAlikeName) {
  // After removal these are the very same name as "Ana", so the room's uniqueness rule answers
  // "Ana (2)" (RoomFixture.ANameThatDiffersOnlyByInvisibleCharactersIsToldApart).
  for (const std::string raw : {"A\u200Bna", "An\u00ADa", "A\uFE0Fna", "Ana\u200D", "\uFEFF" "Ana", "A\u2060na",
                                "\u200E" "Ana", "A\U000E0041na", "Ana\u3164", " Ana\u00A0", "\u2800" "Ana"})
    EXPECT_EQ(normalise_display_name(raw), normalise_display_name("Ana")) << ::testing::PrintToString(raw);
  EXPECT_EQ(name_or_refused("Ana \u200B Silva"), name_or_refused("Ana Silva"));
}

TEST(DisplayName, ControlsAndLineBreaksStillRefuse) {
  expect_refused({std::string("A\0B", 3), "bell\x07", "c1\xc2\x85", "del\x7f", "Ana\n", "\nAna", "A\rB",
                  "A\x0b" "B", "A\x0c" "B", "A\u2028" "B", "Ana\u2029", "\u2028"});
  expect_refused({"\xff", "A\xe2\x80", "\xed\xa0\x80"});  // invalid UTF-8 stays refused
}

TEST(DisplayName, LengthCountsTheNormalisedName) {
  const std::string a32(kMaxNameCodePoints, 'a');
  EXPECT_EQ(name_or_refused(a32), a32);
  expect_refused({a32 + "a"});
  // Removed characters and collapsed spaces do not count: what is shown is 32 code points.
  std::string padded;
  for (char c : a32) padded += std::string(1, c) + "\u200B";
  EXPECT_EQ(name_or_refused(padded), a32);
  EXPECT_EQ(name_or_refused("\u00A0\u00A0" + a32 + "\u3000\u3000"), a32);
  const std::string spaced = std::string(15, 'a') + "     \u3000\u00A0    " + std::string(16, 'b');
  EXPECT_EQ(name_or_refused(spaced), std::string(15, 'a') + " " + std::string(16, 'b'));
  // The space a run collapses to counts: 16 + 1 + 16 is one too many.
  expect_refused({std::string(16, 'a') + "\u00A0" + std::string(16, 'b'), padded + "b"});
  std::string euros;  // 32 three-byte code points: 96 bytes but within the limit
  for (std::size_t i = 0; i < kMaxNameCodePoints; ++i) euros += "\xe2\x82\xac";
  EXPECT_EQ(name_or_refused(euros), euros);
}

TEST(DisplayName, NormalisedNamesAreAFixedPoint) {
  for (const std::string raw : {"  Ana \u00A0 Silva ", "A\u200Bna", "\u202E" "Ana", "Jose\u0301",
                                "Zo\xc3\xab \xf0\x9f\x8e\xa4", "tab\tinside"}) {
    const auto once = normalise_display_name(raw);
    ASSERT_TRUE(once) << raw;
    EXPECT_EQ(normalise_display_name(*once), once) << raw;
  }
}
