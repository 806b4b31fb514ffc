// main() of test_kernels_cuda: the kernel tests on a real GPU, or exit code 77 (which CTest
// reports as skipped) when this machine has no usable CUDA device. Test cases that skip
// themselves (tests/skip.h) follow the rules of tests/skip_main.h.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "kernels/runtime.h"
#include "tests/skip_main.h"

int main(int argc, char** argv) {
  if (!melgrad::kernels::device_available()) {
    std::printf("test_kernels_cuda: no CUDA device available; skipping\n");
    return melgrad::testing::kSkipExitCode;
  }
  doctest::Context context(argc, argv);
  const int rc = context.run();
  return context.shouldExit() ? rc : melgrad::testing::finish(rc);
}
