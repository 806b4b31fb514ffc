// The emulator's own tests, part 7: what a GPU refuses for a kernel's resources. A block
// larger than the kernel's __launch_bounds__ fails as cudaErrorLaunchOutOfResources; the
// occupancy API (MG_OCCUPANCY_MAX_ACTIVE_BLOCKS) follows threads, registers (declared or
// estimated from the bounds) and shared memory on a named device profile (small, h100,
// a100), and a cooperative grid above SMs × occupancy fails as
// cudaErrorCooperativeLaunchTooLarge. The persistent LSTM's plan stays within it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kernels/emu/cuda_compat.h"
#include "kernels/lstm.h"
#include "kernels/runtime.h"
#include "tests/kernels/emu_test_util.h"

using melgrad::emu::KernelError;
using melgrad::emu::ScopedDevice;
using melgrad::emu::testing::error_of;
using melgrad::kernels::DeviceBuffer;

namespace {

__global__ void __launch_bounds__(128) bounded_128(float* y) {
  y[blockIdx.x * blockDim.x + threadIdx.x] = 1.0f;
}
__global__ void __launch_bounds__(256, 2) bounded_256_twice(float* y) { y[threadIdx.x] = 2.0f; }
__global__ void unbounded(float* y) { y[threadIdx.x] = 3.0f; }

template <int kThreads>
__global__ void __launch_bounds__(kThreads) bounded_by_template(float* y) {
  y[threadIdx.x] = 4.0f;
}

// A persistent kernel as the LSTM's: every block resident, one grid barrier.
__global__ void __launch_bounds__(1024) persistent_like(float* y) {
  MG_SHARED_DYN(float, scratch);
  if (threadIdx.x == 0) scratch[0] = static_cast<float>(blockIdx.x);
  mg_grid_sync();
  if (threadIdx.x == 0) y[blockIdx.x] = scratch[0] + 1.0f;
}

__global__ void heavy_registers(float* y) {
  MG_SHARED_DYN(float, scratch);
  scratch[threadIdx.x] = 1.0f;
  mg_grid_sync();
  y[blockIdx.x * blockDim.x + threadIdx.x] = scratch[threadIdx.x];
}

}  // namespace

TEST_CASE("emu device: a block above the kernel's __launch_bounds__ fails as on a GPU") {
  DeviceBuffer<float> y(4096);
  MG_LAUNCH(bounded_128, 2, 128, 0, nullptr)(y.data());  // at the bound: fine
  const std::string e = error_of([&] { MG_LAUNCH(bounded_128, 1, 160, 0, nullptr)(y.data()); });
  CHECK(e.find("kernel 'bounded_128'") != std::string::npos);
  CHECK(e.find("too many resources requested for launch") != std::string::npos);
  CHECK(e.find("cudaErrorLaunchOutOfResources") != std::string::npos);
  CHECK(e.find("160 threads") != std::string::npos);
  CHECK(e.find("at most 128") != std::string::npos);
  // Template arguments and the minimum-blocks argument are read too; no bounds: no limit.
  MG_LAUNCH(bounded_by_template<64>, 1, 64, 0, nullptr)(y.data());
  CHECK_THROWS_AS(MG_LAUNCH(bounded_by_template<64>, 1, 96, 0, nullptr)(y.data()), KernelError);
  CHECK_THROWS_AS(MG_LAUNCH(bounded_256_twice, 1, 288, 0, nullptr)(y.data()), KernelError);
  MG_LAUNCH(unbounded, 1, 1024, 0, nullptr)(y.data());
  // The occupancy API agrees: no block of that size can be resident.
  CHECK(MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(bounded_128, 160, 0) == 0);
}

TEST_CASE("emu device: kernel resources from __launch_bounds__ and declared registers") {
  using melgrad::emu::kernel_resources;
  const auto b128 = kernel_resources(reinterpret_cast<const void*>(&bounded_128));
  CHECK(b128.max_threads == 128);
  CHECK(b128.min_blocks == 1);
  CHECK(b128.registers == 255);  // 64 Ki / 128 = 512, capped at 255
  const auto b256 = kernel_resources(reinterpret_cast<const void*>(&bounded_256_twice));
  CHECK(b256.max_threads == 256);
  CHECK(b256.min_blocks == 2);
  CHECK(b256.registers == 128);  // 64 Ki / (256 × 2)
  const auto b1024 = kernel_resources(reinterpret_cast<const void*>(&persistent_like));
  CHECK(b1024.max_threads == 1024);
  CHECK(b1024.registers == 64);
  const auto none = kernel_resources(reinterpret_cast<const void*>(&unbounded));
  CHECK(none.max_threads == 0);
  CHECK(none.registers == melgrad::emu::kEstimatedRegisters);
  CHECK_FALSE(none.registers_declared);
  CHECK_THROWS_AS(MG_DECLARE_REGISTERS(heavy_registers, 256), std::invalid_argument);
}

TEST_CASE("emu device: occupancy by threads, registers and shared memory per profile") {
  ScopedDevice h100("h100");
  CHECK(melgrad::kernels::device_sm_count() == 132);
  // 1024 threads at 64 registers fill the register file: one block per SM (threads alone
  // would allow two).
  CHECK(MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(persistent_like, 1024, 0) == 1);
  CHECK(MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(persistent_like, 512, 0) == 2);
  // 256 threads without bounds (32 registers): 8 by threads (64 warps / 8).
  CHECK(MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(unbounded, 256, 0) == 8);
  // 100 KiB of dynamic shared memory (+1 KiB reserved): 2 per SM of 228 KiB.
  CHECK(MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(unbounded, 64, 100 * 1024) == 2);
  {
    ScopedDevice a100("a100");
    CHECK(melgrad::kernels::device_sm_count() == 108);
    CHECK(MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(unbounded, 64, 100 * 1024) == 1);  // 164 KiB per SM
    CHECK(melgrad::kernels::device_max_dynamic_smem() == 163 * 1024);
    CHECK_THROWS_AS(MG_SET_MAX_DYNAMIC_SMEM(unbounded, 200 * 1024), KernelError);
  }
  // Declared registers: 128 a thread, 256 threads = 8 warps of 4096 → 2 blocks per SM.
  MG_DECLARE_REGISTERS(heavy_registers, 128);
  CHECK(MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(heavy_registers, 256, 0) == 2);
  CHECK(MG_COOPERATIVE_MAX_BLOCKS(heavy_registers, 256, 0) == 2 * 132);
  CHECK_THROWS_AS(melgrad::emu::set_device("b200"), std::invalid_argument);
}

TEST_CASE("emu device: a cooperative grid above the device's co-residency fails as on a GPU") {
  ScopedDevice small("small");
  DeviceBuffer<float> y(8 * 256);
  // small: 4 SMs × 2 blocks (declared 128 registers, 256 threads) = 8 co-resident.
  MG_DECLARE_REGISTERS(heavy_registers, 128);
  MG_LAUNCH_COOPERATIVE(heavy_registers, 8, 256, 256 * sizeof(float), nullptr)(y.data());
  for (float v : y.to_host()) CHECK(v == 1.0f);
  const std::string e = error_of([&] {
    MG_LAUNCH_COOPERATIVE(heavy_registers, 9, 256, 256 * sizeof(float), nullptr)(y.data());
  });
  CHECK(e.find("kernel 'heavy_registers'") != std::string::npos);
  CHECK(e.find("cudaErrorCooperativeLaunchTooLarge") != std::string::npos);
  CHECK(e.find("9 blocks but at most 8") != std::string::npos);
  CHECK(e.find("128 registers per thread") != std::string::npos);
  CHECK(e.find("'small' (4 SMs)") != std::string::npos);
  // The same grid of 1024-thread blocks of a 1024-bounded kernel: 1 a SM by registers.
  DeviceBuffer<float> z(8);
  MG_LAUNCH_COOPERATIVE(persistent_like, 4, 1024, sizeof(float), nullptr)(z.data());
  CHECK(z.to_host()[3] == 4.0f);
  CHECK_THROWS_AS(MG_LAUNCH_COOPERATIVE(persistent_like, 5, 1024, sizeof(float), nullptr)(z.data()),
                  KernelError);
}

TEST_CASE("emu device: the persistent LSTM's plan fits the co-residency of each profile") {
  using melgrad::kernels::LstmDims;
  // lstm_persistent_forward/backward are __launch_bounds__(1024) kernels with no declared
  // registers, as persistent_like: the same occupancy for the plan's block.
  for (const char* name : {"small", "h100", "a100"}) {
    ScopedDevice device(name);
    CAPTURE(name);
    for (int64_t hidden : {100, 200}) {
      CAPTURE(hidden);
      for (bool backward : {false, true}) {
        const auto plan =
            melgrad::kernels::lstm_persistent_plan(LstmDims{32, 40, hidden, 2}, backward);
        CAPTURE(plan.why_not);
        if (!plan.fits) {
          CHECK(std::string(name) == "small");  // hidden 200 needs more than 4 SMs
          continue;
        }
        const int per_sm = MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(
            persistent_like, static_cast<unsigned>(plan.threads), plan.smem_bytes);
        CHECK(per_sm >= 1);
        CHECK(plan.blocks <= per_sm * melgrad::kernels::device_sm_count());
      }
    }
  }
}
