// ALSA's messages: the underruns it recovers from (one stderr line each, from the audio thread)
// are counted for the server's summary, not printed; anything else is printed as ALSA would.
#include <gtest/gtest.h>

#include "alsa_messages.hpp"

namespace ptt::server::test {
namespace {

TEST(AlsaMessages, UnderrunsAreCountedNotPrinted) {
  const auto before = alsa_underruns_recovered();
  testing::internal::CaptureStderr();
  on_alsa_message("pcm.c", 8570, "snd_pcm_recover", 0, "%s occurred", "underrun");  // as alsa-lib says it
  on_alsa_message("pcm.c", 8570, "snd_pcm_recover", 0, "%s occurred", "underrun");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(alsa_underruns_recovered(), before + 2);
}

TEST(AlsaMessages, OtherMessagesArePrintedAsAlsaPrintsThem) {
  const auto before = alsa_underruns_recovered();
  testing::internal::CaptureStderr();
  on_alsa_message("pcm.c", 2666, "snd_pcm_open_noupdate", -2, "Unknown PCM %s", "nonesuch");
  on_alsa_message("pcm.c", 8570, "snd_pcm_recover", 0, "%s occurred", "overrun");
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM nonesuch: No such file or directory\n"
            "ALSA lib pcm.c:8570:(snd_pcm_recover) overrun occurred\n");
  EXPECT_EQ(alsa_underruns_recovered(), before);
  // A message longer than the handler's buffer is cut, still one line.
  testing::internal::CaptureStderr();
  on_alsa_message("pcm.c", 1, "f", 0, "%s", std::string(2000, 'x').c_str());
  const std::string long_line = testing::internal::GetCapturedStderr();
  EXPECT_GT(long_line.size(), 400u);
  EXPECT_LT(long_line.size(), 512u);
  EXPECT_EQ(long_line.back(), '\n');
}

}  // namespace
}  // namespace ptt::server::test
