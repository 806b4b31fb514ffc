// The emulator's own tests, part 5: recordings (the stand-in for CUDA stream capture that
// engine/cuda/step_graph.cpp uses). Launches made while recording are stored, not run, with
// their arguments by value; replay() runs them again in order on the memory's current
// contents; copies between host and device and frees invalidate the recording.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kernels/emu/cuda_compat.h"
#include "kernels/runtime.h"

using melgrad::emu::KernelError;
using melgrad::kernels::DeviceBuffer;
namespace emu = melgrad::emu;

namespace {

__global__ void add_scalar(float* y, float value, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) y[i] += value;
}

__global__ void double_it(float* y, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) y[i] *= 2.0f;
}

}  // namespace

TEST_CASE("recorded launches run only on replay, in order, with the arguments of the recording") {
  DeviceBuffer<float> y(std::vector<float>(40, 1.0f));
  float value = 3.0f;
  emu::begin_recording();
  CHECK(emu::is_recording());
  MG_LAUNCH(add_scalar, dim3(2), dim3(32), 0, nullptr)(y.data(), value, 40);
  MG_LAUNCH(double_it, dim3(2), dim3(32), 0, nullptr)(y.data(), 40);
  value = 100.0f;  // the recording holds 3
  const emu::Recording r = emu::end_recording();
  CHECK_FALSE(emu::is_recording());
  CHECK(r.launches() == 2);
  CHECK(y.to_host() == std::vector<float>(40, 1.0f));  // nothing ran yet
  r.replay();
  CHECK(y.to_host() == std::vector<float>(40, 8.0f));   // (1 + 3) * 2
  r.replay();                                           // on the current contents
  CHECK(y.to_host() == std::vector<float>(40, 22.0f));  // (8 + 3) * 2
}

TEST_CASE("copies and frees invalidate a recording; nesting is refused") {
  DeviceBuffer<float> y(std::vector<float>(4, 1.0f));
  emu::begin_recording();
  CHECK_THROWS_AS(emu::begin_recording(), KernelError);
  std::vector<float> host(4);
  melgrad::kernels::copy_to_host(host.data(), y.data(), 4 * sizeof(float));
  CHECK_THROWS_WITH(emu::end_recording(),
                    doctest::Contains("a copy from device to host memory (a read-back)"));

  emu::begin_recording();
  melgrad::kernels::copy_to_device(y.data(), host.data(), 4 * sizeof(float));
  CHECK_THROWS_WITH(emu::end_recording(), doctest::Contains("a copy from host to device memory"));

  emu::begin_recording();
  { DeviceBuffer<float> scratch(8); }  // freed while recording
  CHECK_THROWS_WITH(emu::end_recording(), doctest::Contains("freeing device memory"));
  CHECK_THROWS_AS(emu::end_recording(), KernelError);  // nothing is being recorded
}
