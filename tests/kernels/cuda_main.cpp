// main() of test_kernels_cuda: the kernel tests on a real GPU, or exit code 77 (which CTest
// reports as skipped) when this machine has no usable CUDA device.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "kernels/runtime.h"

int main(int argc, char** argv) {
  if (!melgrad::kernels::device_available()) {
    std::printf("test_kernels_cuda: no CUDA device available; skipping\n");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
