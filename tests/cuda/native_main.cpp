// main() of test_cuda_native: the CUDA backend tests on a real GPU. Without a usable device
// it runs only the test cases named "...without a GPU..." (the error a user gets) and then
// exits with 77, which CTest reports as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "engine/cuda/cuda.h"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  if (melgrad::cuda::device_available()) return context.run();
  context.setOption("test-case", "*without a GPU*");
  const int rc = context.run();
  if (rc != 0) return rc;
  std::printf("test_cuda_native: no CUDA device available; skipping the device tests\n");
  return 77;
}
