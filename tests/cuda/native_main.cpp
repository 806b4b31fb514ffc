// main() of test_cuda_native: the CUDA backend tests on a real GPU. Without a usable device
// it runs only the test cases named "...without a GPU..." (the error a user gets) and then
// exits with 77, which CTest reports as skipped; with one it runs every other test case
// (those cases cannot be checked where a GPU is present). Test cases that skip themselves
// (tests/skip.h) follow the rules of tests/skip_main.h.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "engine/cuda/cuda.h"
#include "tests/skip_main.h"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  if (melgrad::cuda::device_available()) {
    context.addFilter("test-case-exclude", "*without a GPU*");
    const int rc = context.run();
    return context.shouldExit() ? rc : melgrad::testing::finish(rc);
  }
  context.setOption("test-case", "*without a GPU*");
  const int rc = context.run();
  if (rc != 0 || context.shouldExit()) return rc;
  std::printf("test_cuda_native: no CUDA device available; skipping the device tests\n");
  return melgrad::testing::kSkipExitCode;
}
