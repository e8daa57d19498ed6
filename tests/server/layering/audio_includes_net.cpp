// Layering probe: the audio wing must not see the network wing. Building this with ptt_audio's
// usage requirements must fail with "listener.hpp: No such file or directory".
#include "listener.hpp"
