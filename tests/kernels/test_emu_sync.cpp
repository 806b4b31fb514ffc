// The emulator's own tests, part 1: block barriers. A missing __syncthreads changes a
// kernel's result under some schedule; divergent barriers (taken by some threads only,
// skipped by early returns, or different call sites) raise a KernelError naming the kernel
// and the block; launch configurations and pointer arguments are validated.
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>
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

constexpr int kBlock = 256;

// Tree sum of each block's slice of x into out[blockIdx.x]. kStoreBarrier = false drops the
// __syncthreads between filling shared memory and the first read of a neighbour's slot.
template <bool kStoreBarrier>
__global__ void block_sum(const float* x, float* out, int n) {
  MG_SHARED(float, partial, kBlock);
  const int t = static_cast<int>(threadIdx.x);
  const int i = static_cast<int>(blockIdx.x * blockDim.x) + t;
  partial[t] = i < n ? x[i] : 0.0f;
  if (kStoreBarrier) __syncthreads();
  for (int s = static_cast<int>(blockDim.x) / 2; s > 0; s /= 2) {
    if (t < s) partial[t] += partial[t + s];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

// y[t] = 2 * x[t + 1] (last: 0) through shared memory, in place. kReadBarrier = false drops
// the barrier between reading the neighbour's slot and overwriting one's own (a WAR race).
template <bool kReadBarrier>
__global__ void shift_left_doubled(const float* x, float* y) {
  MG_SHARED(float, buf, kBlock);
  const int t = static_cast<int>(threadIdx.x);
  buf[t] = x[t];
  __syncthreads();
  const float right = t + 1 < static_cast<int>(blockDim.x) ? buf[t + 1] : 0.0f;
  if (kReadBarrier) __syncthreads();
  buf[t] = 2.0f * right;
  __syncthreads();
  y[t] = buf[t];
}

// Block-wide sum through one shared array of per-warp partials, called twice in a row.
// kTrailingBarrier = false drops the barrier that keeps a fast warp's second call from
// overwriting partials a slow warp has not read yet (needs warps racing ahead to show).
template <bool kTrailingBarrier>
__device__ float block_sum_via_partials(float v) {
  MG_SHARED(float, partials, kBlock / 32);
  for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(0xffffffffu, v, m);
  if (threadIdx.x % 32 == 0) partials[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < kBlock / 32; ++w) total += partials[w];
  if (kTrailingBarrier) __syncthreads();
  return total;
}

template <bool kTrailingBarrier>
__global__ void sum_and_sum_of_squares(const float* x, float* out) {
  const float v = x[threadIdx.x];
  const float s1 = block_sum_via_partials<kTrailingBarrier>(v);
  const float s2 = block_sum_via_partials<kTrailingBarrier>(v * v);
  out[2 * threadIdx.x] = s1;
  out[2 * threadIdx.x + 1] = s2;
}

std::vector<Schedule> all_schedules() {
  std::vector<Schedule> s{Schedule::in_order(), Schedule::reversed()};
  for (uint64_t seed = 1; seed <= 4; ++seed) s.push_back(Schedule::random(seed));
  return s;
}

// Block sums of 0, 1, 2, ... (exact in float) under a schedule.
std::vector<float> run_block_sum(bool with_barrier, const Schedule& sched, int n) {
  std::vector<float> x(static_cast<std::size_t>(n));
  std::iota(x.begin(), x.end(), 0.0f);
  const int blocks = (n + kBlock - 1) / kBlock;
  DeviceBuffer<float> dx(x), dout(static_cast<std::size_t>(blocks));
  ScopedSchedule scope(sched);
  if (with_barrier) {
    MG_LAUNCH((block_sum<true>), blocks, kBlock, 0, nullptr)(dx.data(), dout.data(), n);
  } else {
    MG_LAUNCH((block_sum<false>), blocks, kBlock, 0, nullptr)(dx.data(), dout.data(), n);
  }
  return dout.to_host();
}

std::vector<float> expected_block_sums(int n) {
  std::vector<float> e;
  for (int b = 0; b * kBlock < n; ++b) {
    double s = 0;
    for (int i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) s += i;
    e.push_back(static_cast<float>(s));
  }
  return e;
}

__global__ void barrier_in_branch(float* y) {
  if (threadIdx.x < 16) __syncthreads();
  y[threadIdx.x] = 1.0f;
}

__global__ void early_return_then_barrier(const float* x, float* y, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;  // the classic bug: the threads past n never reach the barrier below
  MG_SHARED(float, tile, 64);
  tile[threadIdx.x] = x[i];
  __syncthreads();
  y[i] = tile[(threadIdx.x + 1) % 64];
}

__global__ void different_barriers(float* y) {
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  y[threadIdx.x] = 0.0f;
}

__global__ void barrier_reductions(const int* pred, int* out) {
  const int p = pred[threadIdx.x];
  const int count = __syncthreads_count(p);
  const int all = __syncthreads_and(p);
  const int any = __syncthreads_or(p);
  if (threadIdx.x == 0) {
    out[0] = count;
    out[1] = all;
    out[2] = any;
  }
}

__global__ void write_index(int* y) {
  y[blockIdx.x * blockDim.x + threadIdx.x] = static_cast<int>(blockIdx.x * 1000 + threadIdx.x);
}

__global__ void block_and_grid_shape(int* y) {
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned per_block = blockDim.x * blockDim.y * blockDim.z;
  y[b * per_block + t] = static_cast<int>(b * per_block + t);
}

}  // namespace

TEST_CASE("emu: a correct shared-memory reduction is exact under every schedule") {
  for (int n : {1000, 256, 37}) {
    for (const Schedule& s : all_schedules()) {
      CAPTURE(n);
      CAPTURE(s.str());
      CHECK(run_block_sum(true, s, n) == expected_block_sums(n));
    }
  }
}

TEST_CASE("emu: a missing __syncthreads after filling shared memory gives wrong results") {
  const int n = 1000;
  const std::vector<float> expected = expected_block_sums(n);
  // In order, thread 0 reads partial[128] before thread 128 has stored it: poison (NaN).
  const std::vector<float> in_order = run_block_sum(false, Schedule::in_order(), n);
  CHECK(in_order != expected);
  CHECK(std::isnan(in_order[0]));
  // Reversed, every store happens before the reads: the bug hides — hence several schedules.
  CHECK(run_block_sum(false, Schedule::reversed(), n) == expected);
  int wrong_random = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    wrong_random += run_block_sum(false, Schedule::random(seed), n) != expected;
  }
  CHECK(wrong_random > 0);
}

TEST_CASE("emu: a missing barrier between a read and an overwrite (WAR) needs reversed order") {
  std::vector<float> x(kBlock);
  std::iota(x.begin(), x.end(), 1.0f);
  std::vector<float> expected(kBlock, 0.0f);
  for (int t = 0; t + 1 < kBlock; ++t) expected[t] = 2.0f * x[t + 1];
  auto run = [&](bool barrier, const Schedule& s) {
    DeviceBuffer<float> dx(x), dy(x.size());
    ScopedSchedule scope(s);
    if (barrier) {
      MG_LAUNCH((shift_left_doubled<true>), 1, kBlock, 0, nullptr)(dx.data(), dy.data());
    } else {
      MG_LAUNCH((shift_left_doubled<false>), 1, kBlock, 0, nullptr)(dx.data(), dy.data());
    }
    return dy.to_host();
  };
  for (const Schedule& s : all_schedules()) {
    CAPTURE(s.str());
    CHECK(run(true, s) == expected);
  }
  CHECK(run(false, Schedule::in_order()) == expected);  // each thread reads before t+1 writes
  CHECK(run(false, Schedule::reversed()) != expected);  // t+1 has overwritten its slot already
}

TEST_CASE("emu: warps race ahead, so a missing barrier between two reductions shows") {
  std::vector<float> x(kBlock);
  for (int i = 0; i < kBlock; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(i % 7);
  double s1 = 0, s2 = 0;
  for (float v : x) {
    s1 += v;
    s2 += double{v} * v;
  }
  std::vector<float> expected;
  for (int i = 0; i < kBlock; ++i) {
    expected.push_back(static_cast<float>(s1));
    expected.push_back(static_cast<float>(s2));
  }
  auto run = [&](bool barrier, const Schedule& s) {
    DeviceBuffer<float> dx(x), out(2 * kBlock);
    ScopedSchedule scope(s);
    if (barrier) {
      MG_LAUNCH(sum_and_sum_of_squares<true>, 1, kBlock, 0, nullptr)(dx.data(), out.data());
    } else {
      MG_LAUNCH(sum_and_sum_of_squares<false>, 1, kBlock, 0, nullptr)(dx.data(), out.data());
    }
    return out.to_host();
  };
  for (const Schedule& s : all_schedules()) {
    CAPTURE(s.str());
    CHECK(run(true, s) == expected);
  }
  // In order, warp 0 runs on to its second call and overwrites partials[0] with its sum of
  // squares before warp 1 has read its first-call partials.
  CHECK(run(false, Schedule::in_order()) != expected);
  CHECK(run(false, Schedule::reversed()) != expected);
}

TEST_CASE("emu: a barrier reached by only some threads of a block is an error") {
  DeviceBuffer<float> y(64);
  const std::string e = error_of([&] {
    MG_LAUNCH(barrier_in_branch, 1, 64, 0, nullptr)
    (y.data());
  });
  CHECK(e.find("kernel 'barrier_in_branch'") != std::string::npos);
  CHECK(e.find("block (0,0,0)") != std::string::npos);
  CHECK(e.find("barrier divergence") != std::string::npos);
  CHECK(e.find("exited without reaching") != std::string::npos);
  CHECK(e.find("test_emu_sync.cpp") != std::string::npos);
}

TEST_CASE("emu: an early return before __syncthreads is reported for the partial block only") {
  const int n = 150;  // blocks 0 and 1 are full; block 2 has 22 live threads
  DeviceBuffer<float> x(std::vector<float>(192, 1.0f)), y(n);
  const std::string e = error_of([&] {
    MG_LAUNCH(early_return_then_barrier, 3, 64, 0, nullptr)(x.data(), y.data(), n);
  });
  CHECK(e.find("kernel 'early_return_then_barrier' block (2,0,0)") != std::string::npos);
  CHECK(e.find("exited without reaching") != std::string::npos);
  // With n a multiple of the block every thread reaches the barrier: no error.
  DeviceBuffer<float> y2(128);
  MG_LAUNCH(early_return_then_barrier, 2, 64, 0, nullptr)(x.data(), y2.data(), 128);
  CHECK(y2.to_host() == std::vector<float>(128, 1.0f));
}

TEST_CASE("emu: threads waiting at different __syncthreads calls is an error") {
  DeviceBuffer<float> y(64);
  for (const Schedule& s : all_schedules()) {
    ScopedSchedule scope(s);
    const std::string e = error_of([&] {
      MG_LAUNCH(different_barriers, 1, 64, 0, nullptr)
      (y.data());
    });
    CHECK(e.find("kernel 'different_barriers'") != std::string::npos);
    CHECK(e.find("waits at a different one") != std::string::npos);
  }
}

TEST_CASE("emu: __syncthreads_count / _and / _or reduce the predicate over the block") {
  const int n = 96;
  for (int ones : {0, 1, 50, 96}) {
    std::vector<int> pred(n, 0);
    for (int i = 0; i < ones; ++i) pred[static_cast<std::size_t>((i * 37) % n)] = 1;
    DeviceBuffer<int> dp(pred), out(3);
    MG_LAUNCH(barrier_reductions, 1, n, 0, nullptr)(dp.data(), out.data());
    CHECK(out.to_host() == std::vector<int>{ones, ones == n, ones > 0});
  }
}

TEST_CASE("emu: every block and thread runs once, for 1-D and 3-D shapes") {
  DeviceBuffer<int> y(5 * 96);
  MG_LAUNCH(write_index, 5, 96, 0, nullptr)(y.data());
  const std::vector<int> h = y.to_host();
  for (int b = 0; b < 5; ++b) {
    for (int t = 0; t < 96; ++t) CHECK(h[static_cast<std::size_t>(b * 96 + t)] == b * 1000 + t);
  }
  const dim3 grid(3, 2, 2), block(4, 3, 5);
  DeviceBuffer<int> z(12 * 60);
  ScopedSchedule scope(Schedule::random(7));
  MG_LAUNCH(block_and_grid_shape, grid, block, 0, nullptr)(z.data());
  std::vector<int> expected(12 * 60);
  std::iota(expected.begin(), expected.end(), 0);
  CHECK(z.to_host() == expected);
}

TEST_CASE("emu: invalid launch configurations and host pointers are rejected") {
  DeviceBuffer<int> y(2048);
  std::string e = error_of([&] { MG_LAUNCH(write_index, 1, 1025, 0, nullptr)(y.data()); });
  CHECK(e.find("invalid launch configuration") != std::string::npos);
  e = error_of([&] { MG_LAUNCH(write_index, 0, 32, 0, nullptr)(y.data()); });
  CHECK(e.find("grid (0,1,1)") != std::string::npos);
  e = error_of([&] { MG_LAUNCH(write_index, 1, 32, 300 * 1024, nullptr)(y.data()); });
  CHECK(e.find("dynamic shared memory") != std::string::npos);
  std::vector<int> host(64);
  e = error_of([&] { MG_LAUNCH(write_index, 1, 32, 0, nullptr)(host.data()); });
  CHECK(e.find("pointer argument 0") != std::string::npos);
  CHECK(e.find("not device memory") != std::string::npos);
}

TEST_CASE("emu: schedules parse from text (MELGRAD_EMU_SCHEDULE) and print back") {
  CHECK(Schedule::parse("inorder").kind == melgrad::emu::ScheduleKind::in_order);
  CHECK(Schedule::parse("reversed").kind == melgrad::emu::ScheduleKind::reversed);
  CHECK(Schedule::parse("random:42").seed == 42);
  CHECK(Schedule::parse("random:42").str() == "random:42");
  CHECK_THROWS_AS(Schedule::parse("backwards"), std::invalid_argument);
  CHECK_THROWS_AS(Schedule::parse("random:x"), std::invalid_argument);
  ScopedSchedule scope(Schedule::reversed());
  CHECK(melgrad::emu::schedule().kind == melgrad::emu::ScheduleKind::reversed);
}
