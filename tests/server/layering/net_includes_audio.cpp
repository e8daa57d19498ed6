// Layering probe: the network wing must not see the audio wing. Building this with ptt_net's usage
// requirements must fail with "recorder.hpp: No such file or directory".
#include "recorder.hpp"
