# Shared build settings: warnings for our own code, sanitizers, and a helper that
# registers a doctest executable with CTest under labels (cpu, cuda, slow, core, ...).

add_library(melgrad_flags INTERFACE)
# -Wno-restrict: GCC 12 at -O3 flags std::string concatenation in libstdc++'s own
# headers with a false -Wrestrict (GCC bug 105651).
target_compile_options(melgrad_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Werror -Wno-restrict>)

# GCC 12 reports false "uninitialized" warnings inside its own AVX-512 intrinsics headers
# when Eigen is compiled with -march=native (GCC bug 105593); files that include Eigen
# call this to silence exactly those two warnings.
function(melgrad_eigen_sources)
  set_source_files_properties(${ARGN} PROPERTIES
    COMPILE_OPTIONS "-Wno-uninitialized;-Wno-maybe-uninitialized")
endfunction()
if(MELGRAD_NATIVE)
  target_compile_options(melgrad_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
if(MELGRAD_SANITIZE)
  target_compile_options(melgrad_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all>)
  target_link_options(melgrad_flags INTERFACE -fsanitize=address,undefined)
endif()

# melgrad_add_test(NAME name SOURCES a.cpp b.cpp LIBS lib... LABELS cpu core ... [ARGS ...])
# Exit code 77 is CTest's "skipped" (tests/skip.h: a run whose test cases all skipped).
# main() and doctest's implementation come from melgrad_test_main (tests/CMakeLists.txt),
# compiled once for every test executable.
function(melgrad_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE melgrad_test_main ${T_LIBS} doctest::doctest
                                          melgrad_flags)
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR})  # tests/skip.h
  target_compile_definitions(${T_NAME} PRIVATE
    MELGRAD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                       SKIP_RETURN_CODE 77)
endfunction()
