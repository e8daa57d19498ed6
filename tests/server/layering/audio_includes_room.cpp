// Layering probe: the audio wing sees the room's interfaces only, not the room itself. Building
// this with ptt_audio's usage requirements must fail with "room.hpp: No such file or directory".
#include "room.hpp"
