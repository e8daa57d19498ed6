// Layering probe (tests/server/CMakeLists.txt): compiled with ptt_audio's usage requirements only,
// the audio wing sees the room's interfaces, the shared vocabulary and its own headers.
#include <type_traits>

#include "audio_pipeline.hpp"
#include "audio_sink.hpp"
#include "ptt/server/vocabulary.hpp"
#include "recording_catalog.hpp"

namespace ptt::server {
// An AudioPipeline is the room's AudioSink and RecordingCatalog.
static_assert(std::is_base_of_v<AudioSink, AudioPipeline>);
static_assert(std::is_base_of_v<RecordingCatalog, AudioPipeline>);
}  // namespace ptt::server
