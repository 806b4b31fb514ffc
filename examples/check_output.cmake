# Checks that a teaching page quotes its example's output exactly:
#   cmake -DPROGRAM=path/to/layer_linear -DPAGE=docs/layers/linear.md -DNAME=layer_linear
#         [-DARGS="--a;1"] [-DLABEL="melgrad-emu kernel gemm ..."] -P examples/check_output.cmake
# Runs PROGRAM with ARGS (it must exit 0), then finds in PAGE the fenced block that follows
# the line `<!-- output of LABEL -->` (LABEL defaults to examples/NAME) and fails, showing
# both, unless the block equals the program's standard output (surrounding whitespace of
# the whole text ignored).
foreach(var PROGRAM PAGE NAME)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_output.cmake: -D${var}=... is required")
  endif()
endforeach()

if(NOT DEFINED LABEL)
  set(LABEL "examples/${NAME}")
endif()
execute_process(COMMAND ${PROGRAM} ${ARGS} OUTPUT_VARIABLE actual RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}; its output:\n${actual}")
endif()

file(READ ${PAGE} page)
set(marker "<!-- output of ${LABEL} -->")
string(FIND "${page}" "${marker}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${PAGE}: no line `${marker}` (the page must quote the output)")
endif()
string(SUBSTRING "${page}" ${at} -1 rest)
string(FIND "${rest}" "```text\n" open)
if(open EQUAL -1)
  message(FATAL_ERROR "${PAGE}: no ```text block after `${marker}`")
endif()
math(EXPR open "${open} + 8")
string(SUBSTRING "${rest}" ${open} -1 rest)
string(FIND "${rest}" "```" close)
if(close EQUAL -1)
  message(FATAL_ERROR "${PAGE}: the block after `${marker}` is not closed")
endif()
string(SUBSTRING "${rest}" 0 ${close} quoted)

string(STRIP "${quoted}" quoted)
string(STRIP "${actual}" actual)
if(NOT quoted STREQUAL actual)
  message(FATAL_ERROR "${PAGE} quotes output that ${LABEL} no longer prints.\n"
                      "--- quoted in the page ---\n${quoted}\n"
                      "--- printed by the program ---\n${actual}\n"
                      "Run the program and paste its output into the page.")
endif()
message(STATUS "${PAGE}: quoted output of ${LABEL} matches")
