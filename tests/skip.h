// Skipping a test case that cannot run in this build or on this machine (no GPU, the direct
// allocator, ...) so that CTest reports it SKIPPED instead of a pass with no assertion:
//
//   if (!cuda::device_available()) return melgrad::testing::skip("no CUDA device");
//
// Every test main (tests/doctest_main.cpp, tests/cuda/native_main.cpp, ...) ends through
// finish() (tests/skip_main.h): the run exits with kSkipExitCode, CTest's SKIP_RETURN_CODE
// of every test, when each test case that ran was skipped; a skipped test case that ran
// beside others that were not fails the run, since CTest can only report a whole run as
// skipped (such a case belongs in a CTest test of its own: a filtered run of its executable,
// `--test-case=NAME`, with the main run excluding it).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace melgrad::testing {

constexpr int kSkipExitCode = 77;

// The test cases of this run and those of them that skipped, with the reason.
struct SkipLog {
  int started = 0;
  std::string current;  // the test case running now
  std::vector<std::string> skipped;
};
inline SkipLog& skip_log() {
  static SkipLog log;
  return log;
}

// Marks the running test case as skipped (say why); the caller returns right after.
inline void skip(const std::string& reason) {
  SkipLog& log = skip_log();
  log.skipped.push_back(log.current + ": " + reason);
  std::printf("SKIPPED: %s: %s\n", log.current.c_str(), reason.c_str());
}

}  // namespace melgrad::testing
