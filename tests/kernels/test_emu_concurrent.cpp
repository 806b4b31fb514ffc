// The emulator's own tests, part 6: the concurrent schedule. The blocks of a launch run on
// several host threads at once, so a read-modify-write of one global counter by every block
// without an atomic loses updates (as it would on a GPU), where the sequential schedules
// always count right; atomicAdd stays exact. Errors, statistics and cooperative launches
// behave as under the other schedules.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/emu/cuda_compat.h"
#include "kernels/runtime.h"

using melgrad::emu::KernelError;
using melgrad::emu::Schedule;
using melgrad::emu::ScheduleKind;
using melgrad::emu::ScopedSchedule;
using melgrad::kernels::DeviceBuffer;

namespace {

// Busy work the compiler cannot drop (a volatile read per iteration).
__device__ void spin_for(int iterations) {
  volatile int bound = iterations;
  for (int i = 0; i < bound; ++i) {
  }
}

// Thread 0 of every block adds one to *counter without an atomic: it reads, works a while
// (`spin` iterations, which widens the window in which another block's update is lost),
// then writes back. Volatile keeps the read before the work and the write after it.
__global__ void count_blocks_racy(int* counter, int spin) {
  if (threadIdx.x != 0) return;
  volatile int* c = counter;
  const int seen = *c;
  spin_for(spin);
  *c = seen + 1;
}

// The same count with atomicAdd.
__global__ void count_blocks_atomic(int* counter, int spin) {
  if (threadIdx.x != 0) return;
  spin_for(spin);
  atomicAdd(counter, 1);
}

// Writes one element past the end of y from block `bad_block`.
__global__ void write_past_end_from(float* y, int n, int bad_block) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) y[i] = 1.0f;
  if (static_cast<int>(blockIdx.x) == bad_block && threadIdx.x == 0) y[n] = 2.0f;
}

__global__ void sum_with_grid_sync(const float* x, float* partial, float* out) {
  if (threadIdx.x == 0) partial[blockIdx.x] = x[blockIdx.x];
  mg_grid_sync();
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    float s = 0.0f;
    for (unsigned b = 0; b < gridDim.x; ++b) s += partial[b];
    *out = s;
  }
}

constexpr int kBlocks = 256;
constexpr int kSpin = 100000;  // ~50-100 µs a block, so a launch takes tens of milliseconds

// The counter after one launch of `blocks` blocks of 32 threads.
template <class... P>
int count(void (*kernel)(P...), int blocks) {
  DeviceBuffer<int> counter(std::vector<int>{0});
  MG_LAUNCH(kernel, blocks, 32, 0, nullptr)(counter.data(), kSpin);
  return counter.to_host()[0];
}

}  // namespace

TEST_CASE("emu concurrent: parsed from MELGRAD_EMU_SCHEDULE's syntax, with a worker count") {
  CHECK(Schedule::parse("concurrent").kind == ScheduleKind::concurrent);
  CHECK(Schedule::parse("concurrent").workers == Schedule::kDefaultWorkers);
  CHECK(Schedule::parse("concurrent:8").workers == 8);
  CHECK(Schedule::parse("concurrent:8").str() == "concurrent:8");
  CHECK(Schedule::parse(Schedule::concurrent(3).str()).workers == 3);
  CHECK_THROWS_AS(Schedule::parse("concurrent:0"), std::invalid_argument);
  CHECK_THROWS_AS(Schedule::parse("concurrent:65"), std::invalid_argument);
  CHECK_THROWS_AS(Schedule::parse("concurrent:x"), std::invalid_argument);
}

TEST_CASE("emu concurrent: a non-atomic update shared by blocks loses counts; atomicAdd does not") {
  {  // The sequential schedules run one block after the other: the racy count is exact.
    ScopedSchedule scope(Schedule::random(5));
    CHECK(count(count_blocks_racy, kBlocks) == kBlocks);
  }
  ScopedSchedule scope(Schedule::concurrent(4));
  // Where two workers run at the same time they overlap for most of each block's window, so
  // launches lose updates (measured: the first launch did in 25 of 25 runs on a 2-core
  // machine at load 11, and in 10 of 10 pinned to one core, where workers overlap only
  // through preemption). 100 launches (a few seconds at worst) make a
  // miss of all of them, the test failing, vanishingly rare.
  int lost_in = 0, attempts = 0;
  while (attempts < 100 && lost_in == 0) {
    ++attempts;
    const int got = count(count_blocks_racy, kBlocks);
    CHECK(got <= kBlocks);
    lost_in += got < kBlocks;
  }
  INFO("launches until a lost update: " << attempts);
  CHECK(lost_in == 1);
  for (int r = 0; r < 5; ++r) CHECK(count(count_blocks_atomic, kBlocks) == kBlocks);
}

TEST_CASE("emu concurrent: a bad access in one block is reported from the launch, as before") {
  ScopedSchedule scope(Schedule::concurrent(4));
  const int n = 64 * 32;
  DeviceBuffer<float> y(static_cast<std::size_t>(n));
  std::string what;
  try {
    MG_LAUNCH(write_past_end_from, 64, 32, 0, nullptr)(y.data(), n, 37);
  } catch (const KernelError& e) {
    what = e.what();
  }
  CHECK(what.find("write_past_end_from") != std::string::npos);
  // The launch still works afterwards, and counts every block once.
  const auto before = melgrad::emu::stats();
  MG_LAUNCH(write_past_end_from, 64, 32, 0, nullptr)(y.data(), n, -1);
  const auto after = melgrad::emu::stats();
  CHECK(after.launches == before.launches + 1);
  CHECK(after.blocks == before.blocks + 64);
  CHECK(after.threads == before.threads + 64 * 32);
  for (float v : y.to_host()) CHECK(v == 1.0f);
}

TEST_CASE("emu concurrent: cooperative launches keep their grid barrier") {
  ScopedSchedule scope(Schedule::concurrent(4));
  const std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8};
  DeviceBuffer<float> xd(x), partial(x.size()), out(1);
  MG_LAUNCH_COOPERATIVE(sum_with_grid_sync, 8, 32, 0, nullptr)
  (xd.data(), partial.data(), out.data());
  CHECK(out.to_host()[0] == 36.0f);
}
