// main() of test_cuda_native: the CUDA backend tests on a real GPU, or exit code 77 (which
// CTest reports as skipped) when this machine has no usable CUDA device.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "engine/cuda/cuda.h"

int main(int argc, char** argv) {
  if (!melgrad::cuda::device_available()) {
    std::printf("test_cuda_native: no CUDA device available; skipping\n");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
