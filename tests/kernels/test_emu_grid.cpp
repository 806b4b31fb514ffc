// The emulator's own tests, part 4: cooperative launches and the grid-wide barrier. With
// MG_LAUNCH_COOPERATIVE every block is resident at once, so blocks can exchange data
// through global memory across mg_grid_sync(); a missing grid barrier changes the result
// under some schedule; a grid barrier skipped by some threads, reached at different call
// sites, mixed with a __syncthreads, or used in an ordinary launch is a KernelError; a grid
// too large to be co-resident is refused, as cudaLaunchCooperativeKernel does.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kernels/emu/cuda_compat.h"
#include "kernels/runtime.h"
#include "tests/kernels/emu_test_util.h"

using melgrad::emu::KernelError;
using melgrad::emu::Schedule;
using melgrad::emu::ScopedSchedule;
using melgrad::emu::testing::error_of;
using melgrad::kernels::DeviceBuffer;

namespace {

constexpr int kThreads = 64;

// `rounds` times: every block sums its slice of `cur` (warp shuffles + a shared array +
// __syncthreads), stores the sum in sums[block], and after a grid barrier every thread adds
// the sum of the next block (cyclically) to its element of the other buffer. With
// kGridSync = false the read of a neighbour's sum races with the neighbour's write.
template <bool kGridSync>
__global__ void ring_rounds(float* a, float* b, float* sums, int rounds) {
  MG_SHARED(float, warp_sums, kThreads / 32);
  const unsigned nblocks = gridDim.x * gridDim.y;
  const unsigned block = blockIdx.x + gridDim.x * blockIdx.y;
  const unsigned i = block * blockDim.x + threadIdx.x;
  for (int r = 0; r < rounds; ++r) {
    float* cur = r % 2 == 0 ? a : b;
    float* next = r % 2 == 0 ? b : a;
    float v = cur[i];
    for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(0xffffffffu, v, m);
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
      float s = 0.0f;
      for (int w = 0; w < kThreads / 32; ++w) s += warp_sums[w];
      sums[block] = s;
    }
    __syncthreads();  // warp_sums is rewritten next round
    if (kGridSync) mg_grid_sync();
    next[i] = cur[i] + sums[(block + 1) % nblocks];
    if (kGridSync) mg_grid_sync();  // sums is rewritten next round
  }
}

// The same rounds on the host.
std::vector<float> ring_rounds_expected(std::vector<float> x, int nblocks, int rounds) {
  std::vector<float> next(x.size());
  for (int r = 0; r < rounds; ++r) {
    std::vector<float> sums(static_cast<std::size_t>(nblocks), 0.0f);
    for (int b = 0; b < nblocks; ++b)
      for (int t = 0; t < kThreads; ++t) sums[b] += x[static_cast<std::size_t>(b * kThreads + t)];
    for (int b = 0; b < nblocks; ++b)
      for (int t = 0; t < kThreads; ++t) {
        const auto i = static_cast<std::size_t>(b * kThreads + t);
        next[i] = x[i] + sums[static_cast<std::size_t>((b + 1) % nblocks)];
      }
    x.swap(next);
  }
  return x;
}

std::vector<float> run_ring(bool grid_sync, dim3 grid, int rounds, const Schedule& sched) {
  const int nblocks = static_cast<int>(grid.x * grid.y);
  std::vector<float> x(static_cast<std::size_t>(nblocks * kThreads));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7);  // exact sums
  DeviceBuffer<float> a(x), b(x.size()), sums(static_cast<std::size_t>(nblocks));
  ScopedSchedule scope(sched);
  if (grid_sync) {
    MG_LAUNCH_COOPERATIVE(ring_rounds<true>, grid, kThreads, 0, nullptr)
    (a.data(), b.data(), sums.data(), rounds);
  } else {
    MG_LAUNCH_COOPERATIVE(ring_rounds<false>, grid, kThreads, 0, nullptr)
    (a.data(), b.data(), sums.data(), rounds);
  }
  return rounds % 2 == 0 ? a.to_host() : b.to_host();
}

// Each block keeps its own shared memory across the grid barrier.
__global__ void shared_is_per_block(int* out) {
  MG_SHARED_VAR(int, mine);
  MG_SHARED_DYN(int, dyn);
  if (threadIdx.x == 0) {
    mine = static_cast<int>(blockIdx.x);
    dyn[0] = 100 + static_cast<int>(blockIdx.x);
  }
  __syncthreads();
  mg_grid_sync();
  out[blockIdx.x * blockDim.x + threadIdx.x] = mine * 1000 + dyn[0];
}

__global__ void grid_sync_skipped_by_last_block(float* y) {
  if (blockIdx.x + 1 == gridDim.x) return;
  mg_grid_sync();
  y[blockIdx.x] = 1.0f;
}

__global__ void grid_syncs_at_two_sites(float* y) {
  if (blockIdx.x == 0) {
    mg_grid_sync();
  } else {
    mg_grid_sync();
  }
  y[blockIdx.x] = 1.0f;
}

__global__ void grid_sync_against_block_sync(float* y) {
  if (threadIdx.x == 0) {
    mg_grid_sync();
  } else {
    __syncthreads();
  }
  y[blockIdx.x] = 1.0f;
}

__global__ void grid_sync_in_plain_launch(float* y) {
  mg_grid_sync();
  y[blockIdx.x] = 1.0f;
}

}  // namespace

TEST_CASE("emu grid: blocks exchange data across mg_grid_sync under every schedule") {
  for (dim3 grid : {dim3(5), dim3(3, 2)}) {
    const int nblocks = static_cast<int>(grid.x * grid.y);
    std::vector<float> x(static_cast<std::size_t>(nblocks * kThreads));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7);
    const std::vector<float> expected = ring_rounds_expected(x, nblocks, 3);
    for (const Schedule& s :
         {Schedule::in_order(), Schedule::reversed(), Schedule::random(1), Schedule::random(2)}) {
      CAPTURE(s.str());
      CAPTURE(nblocks);
      CHECK(run_ring(true, grid, 3, s) == expected);
    }
  }
}

TEST_CASE("emu grid: a missing grid barrier gives wrong results under the schedules") {
  const dim3 grid(4);
  std::vector<float> x(4 * kThreads);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7);
  const std::vector<float> expected = ring_rounds_expected(x, 4, 2);
  // In order, block 0 runs ahead and reads block 1's sum before block 1 has written it
  // (poison: NaN); reversed, the last block reads block 0's stale sum.
  CHECK(run_ring(false, grid, 2, Schedule::in_order()) != expected);
  CHECK(run_ring(false, grid, 2, Schedule::reversed()) != expected);
  int wrong_random = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    wrong_random += run_ring(false, grid, 2, Schedule::random(seed)) != expected;
  }
  CHECK(wrong_random > 0);
}

TEST_CASE("emu grid: static and dynamic shared memory stay per block in a cooperative grid") {
  const int blocks = 3, threads = 40;
  DeviceBuffer<int> out(static_cast<std::size_t>(blocks * threads));
  for (const Schedule& s : {Schedule::in_order(), Schedule::reversed(), Schedule::random(3)}) {
    ScopedSchedule scope(s);
    MG_LAUNCH_COOPERATIVE(shared_is_per_block, blocks, threads, sizeof(int), nullptr)(out.data());
    const std::vector<int> got = out.to_host();
    for (int b = 0; b < blocks; ++b)
      for (int t = 0; t < threads; ++t)
        CHECK(got[static_cast<std::size_t>(b * threads + t)] == b * 1000 + 100 + b);
  }
}

TEST_CASE("emu grid: divergent grid barriers are errors naming the kernel and the threads") {
  DeviceBuffer<float> y(8);
  const std::string skipped = error_of([&] {
    MG_LAUNCH_COOPERATIVE(grid_sync_skipped_by_last_block, 4, 32, 0, nullptr)(y.data());
  });
  CHECK(skipped.find("kernel 'grid_sync_skipped_by_last_block' block (3,0,0)") !=
        std::string::npos);
  CHECK(skipped.find("exited without reaching the mg_grid_sync at test_emu_grid.cpp:") !=
        std::string::npos);

  const std::string two_sites = error_of([&] {
    MG_LAUNCH_COOPERATIVE(grid_syncs_at_two_sites, 2, 32, 0, nullptr)(y.data());
  });
  CHECK(two_sites.find("grid barrier divergence") != std::string::npos);
  CHECK(two_sites.find("waits at a different one") != std::string::npos);

  const std::string mixed = error_of([&] {
    MG_LAUNCH_COOPERATIVE(grid_sync_against_block_sync, 2, 32, 0, nullptr)(y.data());
  });
  CHECK(mixed.find("barrier divergence") != std::string::npos);
  CHECK(mixed.find("waits at mg_grid_sync at test_emu_grid.cpp:") != std::string::npos);
}

TEST_CASE("emu grid: mg_grid_sync needs a cooperative launch that fits co-resident") {
  DeviceBuffer<float> y(1024);
  const std::string plain = error_of([&] {
    MG_LAUNCH(grid_sync_in_plain_launch, 2, 32, 0, nullptr)
    (y.data());
  });
  CHECK(plain.find("not launched with MG_LAUNCH_COOPERATIVE") != std::string::npos);

  // 256 threads = 8 warps: 8 blocks per emulated SM by threads (64 warps), 4 SMs.
  const int fit = MG_COOPERATIVE_MAX_BLOCKS(grid_sync_in_plain_launch, 256, 0);
  CHECK(fit == 4 * 8);
  CHECK(MG_COOPERATIVE_MAX_BLOCKS(grid_sync_in_plain_launch, 32, 100 * 1024) == 4 * 2);
  const std::string too_large = error_of([&] {
    MG_LAUNCH_COOPERATIVE(grid_sync_skipped_by_last_block, fit + 1, 256, 0, nullptr)(y.data());
  });
  CHECK(too_large.find("33 blocks but at most 32") != std::string::npos);
  CHECK(too_large.find("co-resident") != std::string::npos);
}
