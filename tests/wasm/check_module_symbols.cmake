# Checks what a browser module holds, from the function names the linker wrote beside it
# (--emit-symbol-map): each module must hold its own job (REQUIRE) and nothing of the other's
# (FORBID). Usage: cmake -DSYMBOLS=<module>.wasm.symbols "-DREQUIRE=a;b" "-DFORBID=c;d" -P this
if(NOT EXISTS "${SYMBOLS}")
  message(FATAL_ERROR "${SYMBOLS} does not exist: build the wasm preset")
endif()
file(READ "${SYMBOLS}" names)
foreach(pattern IN LISTS REQUIRE)
  if(NOT names MATCHES "${pattern}")
    message(FATAL_ERROR "${SYMBOLS}: no function matches '${pattern}'")
  endif()
endforeach()
foreach(pattern IN LISTS FORBID)
  string(REGEX MATCH "[^\n]*${pattern}[^\n]*" hit "${names}")
  if(hit)
    message(FATAL_ERROR "${SYMBOLS} holds '${hit}', which matches '${pattern}' and belongs to the other module")
  endif()
endforeach()
message(STATUS "${SYMBOLS}: ok")
