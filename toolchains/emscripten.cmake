# Toolchain for Debian's emscripten 3.1.6, so that `cmake --preset wasm` (or --toolchain) works
# without emcmake. It includes Emscripten's own toolchain file and fixes what differs on Debian
# (see docs/BUILDING.md):
#  - em++ runs node scripts that need Debian's node modules (acorn): NODE_PATH for every call.
#  - emcmake's test emulator passes a flag node 20 rejects: plain node instead.
set(EMSCRIPTEN_ROOT_PATH /usr/share/emscripten CACHE PATH "Emscripten root")
include(/usr/share/emscripten/cmake/Modules/Platform/Emscripten.cmake)

foreach(lang C CXX)
  set(CMAKE_${lang}_COMPILER_LAUNCHER env NODE_PATH=/usr/share/nodejs CACHE STRING "" FORCE)
  set(CMAKE_${lang}_LINKER_LAUNCHER env NODE_PATH=/usr/share/nodejs CACHE STRING "" FORCE)
endforeach()
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/node CACHE FILEPATH "Runs wasm tests" FORCE)
