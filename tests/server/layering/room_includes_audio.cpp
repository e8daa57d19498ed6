// Layering probe: the room wing must not see the audio wing. Building this with ptt_room's usage
// requirements must fail with "jitter_stage.hpp: No such file or directory".
#include "jitter_stage.hpp"
