// The emulator's own tests, part 2: warp collectives and atomics give exactly CUDA's
// results (shuffles with every width, votes and __reduce_*_sync with partial masks and
// partial warps, atomics from many blocks); warp-synchronous code without __syncwarp is
// exposed; a warp collective that cannot complete is an error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
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

enum ShuffleKind : int { kIdx, kUp, kDown, kXor };

template <class T>
__device__ T lane_value(unsigned t) {
  return static_cast<T>(1000 * (t / 32) + 3 * (t % 32)) + static_cast<T>(0.5);
}

template <class T>
__global__ void shuffle_kernel(T* out, int kind, int param, int width) {
  const T v = lane_value<T>(threadIdx.x);
  T r{};
  switch (kind) {
    case kIdx:
      r = __shfl_sync(0xffffffffu, v, param, width);
      break;
    case kUp:
      r = __shfl_up_sync(0xffffffffu, v, static_cast<unsigned>(param), width);
      break;
    case kDown:
      r = __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(param), width);
      break;
    default:
      r = __shfl_xor_sync(0xffffffffu, v, param, width);
      break;
  }
  out[threadIdx.x] = r;
}

// CUDA's shuffle rules, written out for the host (CUDA C Programming Guide, "Warp Shuffle").
int source_lane(int kind, int lane, int param, int width) {
  const int seg = lane / width * width;
  switch (kind) {
    case kIdx:
      return seg + ((param % width) + width) % width;
    case kUp:
      return lane - param < seg ? lane : lane - param;
    case kDown:
      return lane + param >= seg + width ? lane : lane + param;
    default:
      return (lane ^ param) >= seg + width ? lane : (lane ^ param);
  }
}

template <class T>
void check_shuffles() {
  const int n = 64;
  for (int kind : {kIdx, kUp, kDown, kXor}) {
    for (int width : {32, 16, 8, 4, 2, 1}) {
      for (int param : {0, 1, 3, 5, 16, 31, 37}) {
        DeviceBuffer<T> out(n);
        MG_LAUNCH(shuffle_kernel<T>, 1, n, 0, nullptr)(out.data(), kind, param, width);
        const std::vector<T> got = out.to_host();
        for (int t = 0; t < n; ++t) {
          const int src = (t / 32) * 32 + source_lane(kind, t % 32, param, width);
          CAPTURE(kind);
          CAPTURE(width);
          CAPTURE(param);
          CAPTURE(t);
          REQUIRE(got[static_cast<std::size_t>(t)] == lane_value<T>(static_cast<unsigned>(src)));
        }
      }
    }
  }
}

__global__ void votes_kernel(unsigned* out) {
  const unsigned lane = threadIdx.x % 32;
  // Every lane: ballot of (lane % 3 == 0) over the whole (possibly partial) warp.
  out[4 * threadIdx.x + 0] = __ballot_sync(0xffffffffu, lane % 3 == 0);
  out[4 * threadIdx.x + 1] = static_cast<unsigned>(__all_sync(0xffffffffu, lane < 100));
  if (lane % 2 == 0) {  // even lanes only, with a mask that names exactly them
    out[4 * threadIdx.x + 2] = __ballot_sync(0x55555555u, lane % 4 == 0);
    out[4 * threadIdx.x + 3] = static_cast<unsigned>(__any_sync(0x55555555u, lane == 20)) +
                               2u * static_cast<unsigned>(__all_sync(0x55555555u, lane % 2 == 0));
  } else {
    out[4 * threadIdx.x + 2] = 7;
    out[4 * threadIdx.x + 3] = 7;
  }
}

__global__ void warp_reduce_kernel(const int* x, int* out) {
  const int v = x[threadIdx.x];
  out[6 * threadIdx.x + 0] = __reduce_add_sync(0xffffffffu, v);
  out[6 * threadIdx.x + 1] = __reduce_min_sync(0xffffffffu, v);
  out[6 * threadIdx.x + 2] = __reduce_max_sync(0xffffffffu, v);
  out[6 * threadIdx.x + 3] =
      static_cast<int>(__reduce_min_sync(0xffffffffu, static_cast<unsigned>(v)));
  out[6 * threadIdx.x + 4] =
      static_cast<int>(__reduce_or_sync(0xffffffffu, static_cast<unsigned>(v)));
  // Butterfly sum with __shfl_xor_sync: every lane ends with the warp's total.
  int s = v;
  for (int m = 16; m > 0; m /= 2) s += __shfl_xor_sync(0xffffffffu, s, m);
  out[6 * threadIdx.x + 5] = s;
}

__global__ void partial_warp_shuffle(float* out) {
  // Block of 40: the second warp has lanes 0..7 only; shuffling from lanes 8..11 (which do
  // not exist) is undefined in CUDA and gives poison (NaN) in the emulator.
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, static_cast<float>(threadIdx.x), 4);
}

// Warp-synchronous tree sum of 64 values in shared memory by one warp.
template <bool kSyncwarp>
__global__ void warp_tree_sum(const float* x, float* out) {
  MG_SHARED(float, s, 64);
  const unsigned t = threadIdx.x;
  s[t] = x[t];
  s[t + 32] = x[t + 32];
  if (kSyncwarp) __syncwarp();
  for (unsigned off = 32; off > 0; off /= 2) {
    if (t < off) s[t] += s[t + off];
    if (kSyncwarp) __syncwarp();
  }
  if (t == 0) *out = s[0];
}

__global__ void mixed_collectives(unsigned* out) {
  if (threadIdx.x % 2 == 0) {
    out[threadIdx.x] = __shfl_sync(0xffffffffu, threadIdx.x, 0);
  } else {
    out[threadIdx.x] = __ballot_sync(0xffffffffu, 1);
  }
}

__global__ void histogram_kernel(const int* x, int n, int* bins, float* sum, int* mx, int* mn) {
  MG_SHARED(int, local, 17);
  for (unsigned b = threadIdx.x; b < 17; b += blockDim.x) local[b] = 0;
  __syncthreads();
  for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < n;
       i += static_cast<int>(gridDim.x * blockDim.x)) {
    atomicAdd(&local[x[i]], 1);
    atomicAdd(sum, static_cast<float>(x[i]));
    atomicMax(mx, x[i] * 7 - 50);
    atomicMin(mn, x[i] * 7 - 50);
  }
  __syncthreads();
  for (unsigned b = threadIdx.x; b < 17; b += blockDim.x) atomicAdd(&bins[b], local[b]);
}

__device__ float atomic_max_float(float* addr, float v) {  // the classic CAS loop
  int* a = reinterpret_cast<int*>(addr);
  int old = *a;
  while (__int_as_float(old) < v) {
    const int assumed = old;
    old = atomicCAS(a, assumed, __float_as_int(v));
    if (old == assumed) break;
  }
  return __int_as_float(old);
}

__global__ void cas_and_inc_kernel(const float* x, float* fmax, unsigned* counter, unsigned* olds,
                                   int* slot, int* exchanged) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  atomic_max_float(fmax, x[i]);
  olds[i] = atomicInc(counter, 9);
  exchanged[i] = atomicExch(slot, static_cast<int>(i));
}

}  // namespace

TEST_CASE("emu: __shfl_sync / _up / _down / _xor follow CUDA's lane rules for every width") {
  check_shuffles<int>();
  check_shuffles<float>();
  check_shuffles<double>();
}

TEST_CASE("emu: ballot / any / all with full, partial masks and a partial warp") {
  const int n = 40;  // warp 1 has 8 lanes
  DeviceBuffer<unsigned> out(4 * n);
  MG_LAUNCH(votes_kernel, 1, n, 0, nullptr)(out.data());
  const std::vector<unsigned> h = out.to_host();
  for (unsigned t = 0; t < n; ++t) {
    const unsigned lanes = t < 32 ? 32 : 8;
    unsigned expected_ballot = 0;
    for (unsigned l = 0; l < lanes; l += 3) expected_ballot |= 1u << l;
    CAPTURE(t);
    CHECK(h[4 * t + 0] == expected_ballot);
    CHECK(h[4 * t + 1] == 1u);
    if (t % 2 == 0) {
      const unsigned even_lanes = t < 32 ? 0x11111111u : 0x11u;  // lanes % 4 == 0 that exist
      CHECK(h[4 * t + 2] == even_lanes);
      CHECK(h[4 * t + 3] == (t < 32 ? 1u + 2u : 0u + 2u));  // lane 20 exists only in warp 0
    } else {
      CHECK(h[4 * t + 2] == 7u);
    }
  }
}

TEST_CASE("emu: __reduce_*_sync and a shuffle butterfly give exact warp reductions") {
  std::vector<int> x(64);
  for (int i = 0; i < 64; ++i) x[static_cast<std::size_t>(i)] = (i * 37) % 101 - 50;
  DeviceBuffer<int> dx(x), out(6 * 64);
  MG_LAUNCH(warp_reduce_kernel, 1, 64, 0, nullptr)(dx.data(), out.data());
  const std::vector<int> h = out.to_host();
  for (int w = 0; w < 2; ++w) {
    const auto b = x.begin() + 32 * w, e = b + 32;
    int sum = 0;
    unsigned bor = 0, umin = ~0u;
    for (auto it = b; it != e; ++it) {
      sum += *it;
      bor |= static_cast<unsigned>(*it);
      umin = std::min(umin, static_cast<unsigned>(*it));
    }
    for (int l = 0; l < 32; ++l) {
      const std::size_t t = static_cast<std::size_t>(32 * w + l);
      CHECK(h[6 * t + 0] == sum);
      CHECK(h[6 * t + 1] == *std::min_element(b, e));
      CHECK(h[6 * t + 2] == *std::max_element(b, e));
      CHECK(static_cast<unsigned>(h[6 * t + 3]) == umin);
      CHECK(static_cast<unsigned>(h[6 * t + 4]) == bor);
      CHECK(h[6 * t + 5] == sum);
    }
  }
}

TEST_CASE("emu: shuffling from a lane that does not exist gives poison") {
  DeviceBuffer<float> out(40);
  MG_LAUNCH(partial_warp_shuffle, 1, 40, 0, nullptr)(out.data());
  const std::vector<float> h = out.to_host();
  for (int t = 0; t < 28; ++t) CHECK(h[static_cast<std::size_t>(t)] == static_cast<float>(t + 4));
  for (int t = 28; t < 32; ++t) CHECK(h[static_cast<std::size_t>(t)] == static_cast<float>(t));
  for (int t = 32; t < 36; ++t) CHECK(h[static_cast<std::size_t>(t)] == static_cast<float>(t + 4));
  for (int t = 36; t < 40; ++t) CHECK(std::isnan(h[static_cast<std::size_t>(t)]));
}

TEST_CASE("emu: warp-synchronous shared memory code without __syncwarp is exposed") {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(i);
  const float expected = 63.0f * 64.0f / 2.0f;
  auto run = [&](bool syncwarp, const Schedule& s) {
    DeviceBuffer<float> dx(x), out(1);
    ScopedSchedule scope(s);
    if (syncwarp) {
      MG_LAUNCH(warp_tree_sum<true>, 1, 32, 0, nullptr)(dx.data(), out.data());
    } else {
      MG_LAUNCH(warp_tree_sum<false>, 1, 32, 0, nullptr)(dx.data(), out.data());
    }
    return out.to_host()[0];
  };
  for (const Schedule& s : {Schedule::in_order(), Schedule::reversed(), Schedule::random(3)}) {
    CAPTURE(s.str());
    CHECK(run(true, s) == expected);
  }
  CHECK(run(false, Schedule::in_order()) != expected);
}

TEST_CASE("emu: warp collectives that cannot complete are errors") {
  DeviceBuffer<unsigned> out(32);
  const std::string e = error_of([&] {
    MG_LAUNCH(mixed_collectives, 1, 32, 0, nullptr)
    (out.data());
  });
  CHECK(e.find("kernel 'mixed_collectives'") != std::string::npos);
  CHECK(e.find("warp 0 diverges") != std::string::npos);
}

TEST_CASE("emu: atomics on global and shared memory from many blocks are exact") {
  const int n = 10007;
  std::vector<int> x(n);
  for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = (i * 7919) % 17;
  DeviceBuffer<int> dx(x), bins(std::vector<int>(17, 0)), mx(std::vector<int>{-1000}),
      mn(std::vector<int>{1000});
  DeviceBuffer<float> sum(std::vector<float>{0.0f});
  ScopedSchedule scope(Schedule::random(11));
  MG_LAUNCH(histogram_kernel, 13, 96, 0, nullptr)
  (dx.data(), n, bins.data(), sum.data(), mx.data(), mn.data());
  std::vector<int> expected(17, 0);
  double total = 0;
  for (int v : x) {
    ++expected[static_cast<std::size_t>(v)];
    total += v;
  }
  CHECK(bins.to_host() == expected);
  CHECK(sum.to_host()[0] == static_cast<float>(total));  // integers < 2^24: exact
  CHECK(mx.to_host()[0] == 16 * 7 - 50);
  CHECK(mn.to_host()[0] == -50);
}

TEST_CASE("emu: atomicCAS, atomicInc and atomicExch return the old values") {
  const int n = 100;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = std::sin(static_cast<float>(i));
  DeviceBuffer<float> dx(x), fmax(std::vector<float>{-2.0f});
  DeviceBuffer<unsigned> counter(std::vector<unsigned>{0}), olds(n);
  DeviceBuffer<int> slot(std::vector<int>{-1}), exchanged(n);
  MG_LAUNCH(cas_and_inc_kernel, 4, 25, 0, nullptr)
  (dx.data(), fmax.data(), counter.data(), olds.data(), slot.data(), exchanged.data());
  CHECK(fmax.to_host()[0] == *std::max_element(x.begin(), x.end()));
  CHECK(counter.to_host()[0] == 0u);  // 100 increments modulo 10
  std::vector<unsigned> o = olds.to_host();
  std::sort(o.begin(), o.end());
  for (int i = 0; i < n; ++i)
    CHECK(o[static_cast<std::size_t>(i)] == static_cast<unsigned>(i / 10));
  // The exchanged-out values and the final value are -1 and 0..99, each once.
  std::vector<int> seen = exchanged.to_host();
  seen.push_back(slot.to_host()[0]);
  std::sort(seen.begin(), seen.end());
  for (int i = 0; i <= n; ++i) CHECK(seen[static_cast<std::size_t>(i)] == i - 1);
}
