# libopus and speexdsp compiled to WebAssembly from Debian's source packages, which scripts/setup
# unpacks into .cache/src (never committed). Natively the system libraries are used instead.
set(PTT_THIRD_PARTY_SRC "${PROJECT_SOURCE_DIR}/.cache/src" CACHE PATH "Unpacked opus and speexdsp sources")
set(_opus "${PTT_THIRD_PARTY_SRC}/opus")
set(_speex "${PTT_THIRD_PARTY_SRC}/speexdsp")
if(NOT EXISTS "${_opus}/opus_sources.mk" OR NOT EXISTS "${_speex}/libspeexdsp/preprocess.c")
  message(FATAL_ERROR "opus/speexdsp sources not found in ${PTT_THIRD_PARTY_SRC}: run ./scripts/setup")
endif()

# Opus's own source lists (its *.mk files), read with its own helper.
include("${_opus}/opus_functions.cmake")
foreach(group IN ITEMS CELT_SOURCES SILK_SOURCES SILK_SOURCES_FLOAT OPUS_SOURCES OPUS_SOURCES_FLOAT)
  string(TOLOWER "${group}" var)
  string(REGEX MATCH "^[A-Z]+" prefix "${group}")
  string(TOLOWER "${prefix}" file)
  get_opus_sources(${group} "${_opus}/${file}_sources.mk" ${var})
  list(TRANSFORM ${var} PREPEND "${_opus}/")
  list(APPEND _opus_sources ${${var}})
endforeach()
file(READ "${_opus}/package_version" _opus_version)
string(REGEX MATCH "[0-9][0-9.]*" _opus_version "${_opus_version}")

add_library(opus STATIC ${_opus_sources})
target_include_directories(opus PUBLIC "${_opus}/include"
  PRIVATE "${_opus}" "${_opus}/celt" "${_opus}/silk" "${_opus}/silk/float")
target_compile_definitions(opus PRIVATE OPUS_BUILD VAR_ARRAYS HAVE_LRINTF HAVE_LRINT
  PACKAGE_VERSION="${_opus_version}")
target_compile_options(opus PRIVATE -O2 -w)

set(INCLUDE_STDINT "#include <stdint.h>")
set(SIZE16 int16_t)
set(USIZE16 uint16_t)
set(SIZE32 int32_t)
set(USIZE32 uint32_t)
configure_file("${_speex}/include/speex/speexdsp_config_types.h.in"
  "${CMAKE_CURRENT_BINARY_DIR}/speexdsp-generated/speexdsp_config_types.h" @ONLY)
add_library(speexdsp STATIC)
foreach(f IN ITEMS preprocess filterbank fftwrap kiss_fft kiss_fftr mdf)
  target_sources(speexdsp PRIVATE "${_speex}/libspeexdsp/${f}.c")
endforeach()
target_include_directories(speexdsp PUBLIC "${_speex}/include" "${CMAKE_CURRENT_BINARY_DIR}/speexdsp-generated")
target_compile_definitions(speexdsp PRIVATE FLOATING_POINT USE_KISS_FFT EXPORT=)
target_compile_options(speexdsp PRIVATE -O2 -w)

add_library(ptt::opus ALIAS opus)
add_library(ptt::speexdsp ALIAS speexdsp)

# Header-only libraries from Debian's /usr/include, exposed to em++ one folder at a time (adding
# /usr/include itself would pull the host's libc headers into the wasm build).
set(_sysinc "${CMAKE_CURRENT_BINARY_DIR}/sysinc")
file(MAKE_DIRECTORY "${_sysinc}")
foreach(dir IN ITEMS nlohmann)
  if(NOT EXISTS "${_sysinc}/${dir}")
    file(CREATE_LINK "/usr/include/${dir}" "${_sysinc}/${dir}" SYMBOLIC)
  endif()
endforeach()
add_library(ptt_header_libs INTERFACE)
target_include_directories(ptt_header_libs SYSTEM INTERFACE "${_sysinc}")
