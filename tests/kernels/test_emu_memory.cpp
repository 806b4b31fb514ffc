// The emulator's own tests, part 3: memory. Shared memory is poisoned (0xFF bytes: NaN for
// float, -1 for int) before every block, so reading it before writing shows; overruns of
// shared arrays, out-of-bounds global reads and writes, null and host pointers are reported
// as KernelError naming the kernel, block and thread. Shared memory above 48 KiB per block
// needs the kernel's opt-in (MG_SET_MAX_DYNAMIC_SMEM), as on a GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/emu/cuda_compat.h"
#include "kernels/runtime.h"
#include "tests/kernels/emu_test_util.h"

using melgrad::emu::KernelError;
using melgrad::emu::testing::error_of;
using melgrad::kernels::DeviceBuffer;

namespace {

__global__ void read_shared_before_write(float* f, int* i, float* dyn_out) {
  MG_SHARED(float, sf, 32);
  MG_SHARED_VAR(int, si);
  MG_SHARED_DYN(float, dyn);
  // Block 0 writes its shared memory and reads it back; block 1 only reads: it must not see
  // block 0's values.
  if (blockIdx.x == 0) {
    sf[threadIdx.x] = 1.0f;
    if (threadIdx.x == 0) si = 5;
    dyn[threadIdx.x] = 2.0f;
  }
  __syncthreads();
  f[blockIdx.x * 32 + threadIdx.x] = sf[threadIdx.x] + 1.0f;  // NaN propagates
  i[blockIdx.x * 32 + threadIdx.x] = si;
  dyn_out[blockIdx.x * 32 + threadIdx.x] = dyn[threadIdx.x];
}

__global__ void shared_2d_transpose(const float* x, float* y) {
  MG_SHARED_2D(float, tile, 8, 9);  // the padded-tile idiom
  tile[threadIdx.y][threadIdx.x] = x[threadIdx.y * 8 + threadIdx.x];
  __syncthreads();
  y[threadIdx.y * 8 + threadIdx.x] = tile[threadIdx.x][threadIdx.y];
}

__global__ void shared_overrun(float* y) {
  MG_SHARED(float, window, 32);
  window[threadIdx.x + 1] = 1.0f;  // thread 31 writes window[32]
  __syncthreads();
  y[threadIdx.x] = window[threadIdx.x];
}

__global__ void read_at(const float* x, float* y, int offset) {
  y[threadIdx.x] = x[static_cast<int>(threadIdx.x) + offset];
}
__global__ void write_at(float* y, int offset) { y[static_cast<int>(threadIdx.x) + offset] = 1.0f; }

// Writes the last float of `floats` floats of dynamic shared memory and copies it out.
__global__ void touch_dynamic_end(float* y, int floats) {
  MG_SHARED_DYN(float, dyn);
  if (threadIdx.x == 0) dyn[floats - 1] = 3.0f;
  __syncthreads();
  if (threadIdx.x == 0) y[0] = dyn[floats - 1];
}
// The same kernel, a separate function: an opt-in is per kernel function.
__global__ void touch_dynamic_end_no_optin(float* y, int floats) {
  MG_SHARED(float, stat, 256);  // 1 KiB of static shared memory
  MG_SHARED_DYN(float, dyn);
  if (threadIdx.x == 0) dyn[floats - 1] = stat[0] = 4.0f;
  __syncthreads();
  if (threadIdx.x == 0) y[0] = dyn[floats - 1] + stat[0];
}

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("emu: shared memory is poisoned before every block") {
  DeviceBuffer<float> f(64), dyn(64);
  DeviceBuffer<int> i(64);
  MG_LAUNCH(read_shared_before_write, 2, 32, 32 * sizeof(float), nullptr)
  (f.data(), i.data(), dyn.data());
  const std::vector<float> hf = f.to_host(), hd = dyn.to_host();
  const std::vector<int> hi = i.to_host();
  for (int t = 0; t < 32; ++t) {
    CHECK(hf[static_cast<std::size_t>(t)] == 2.0f);
    CHECK(hi[static_cast<std::size_t>(t)] == 5);
    CHECK(hd[static_cast<std::size_t>(t)] == 2.0f);
    CHECK(std::isnan(hf[static_cast<std::size_t>(32 + t)]));
    CHECK(hi[static_cast<std::size_t>(32 + t)] == -1);
    CHECK(std::isnan(hd[static_cast<std::size_t>(32 + t)]));
  }
}

TEST_CASE("emu: 2-D shared arrays index like CUDA's") {
  std::vector<float> x(64);
  for (int k = 0; k < 64; ++k) x[static_cast<std::size_t>(k)] = static_cast<float>(k);
  DeviceBuffer<float> dx(x), dy(64);
  MG_LAUNCH(shared_2d_transpose, 1, dim3(8, 8), 0, nullptr)(dx.data(), dy.data());
  const std::vector<float> y = dy.to_host();
  for (int r = 0; r < 8; ++r) {
    for (int c = 0; c < 8; ++c)
      CHECK(y[static_cast<std::size_t>(r * 8 + c)] == x[static_cast<std::size_t>(c * 8 + r)]);
  }
}

TEST_CASE("emu: writing past the end of a shared array is reported with its name") {
  DeviceBuffer<float> y(32);
  const std::string e = error_of([&] { MG_LAUNCH(shared_overrun, 1, 32, 0, nullptr)(y.data()); });
  CHECK(has(e, "kernel 'shared_overrun' block (0,0,0)"));
  CHECK(has(e, "past the end of shared memory 'window'"));
}

TEST_CASE("emu: more than 48 KiB of shared memory needs the kernel's opt-in, as on a GPU") {
  DeviceBuffer<float> y(1);
  constexpr int k48 = 48 * 1024, k64 = 64 * 1024;
  // Without an opt-in: 48 KiB of static + dynamic shared memory at most.
  std::string e = error_of([&] {
    MG_LAUNCH(touch_dynamic_end_no_optin, 1, 32, k64, nullptr)(y.data(), k64 / 4);
  });
  CHECK(has(e, "kernel 'touch_dynamic_end_no_optin': invalid launch configuration: 65536 bytes"));
  CHECK(has(e, "at most 49152 without an opt-in"));
  CHECK(has(e, "MG_SET_MAX_DYNAMIC_SMEM"));
  e = error_of([&] {  // 1 KiB static + 48 KiB dynamic: over, found when the static array is made
    MG_LAUNCH(touch_dynamic_end_no_optin, 1, 32, k48, nullptr)(y.data(), k48 / 4);
  });
  CHECK(has(e, "static + dynamic shared memory exceed 49152 bytes"));
  MG_LAUNCH(touch_dynamic_end_no_optin, 1, 32, k48 - 1024, nullptr)(y.data(), (k48 - 1024) / 4);
  CHECK(y.to_host()[0] == 8.0f);

  // With one: up to the value set (the last value set wins), at most 227 KiB.
  MG_SET_MAX_DYNAMIC_SMEM(touch_dynamic_end, k64);
  MG_LAUNCH(touch_dynamic_end, 1, 32, k64, nullptr)(y.data(), k64 / 4);
  CHECK(y.to_host()[0] == 3.0f);
  e = error_of([&] { MG_LAUNCH(touch_dynamic_end, 1, 32, k64 + 4, nullptr)(y.data(), k64 / 4); });
  CHECK(has(e, "65540 bytes of dynamic shared memory (at most 65536)"));
  e = error_of([&] { MG_SET_MAX_DYNAMIC_SMEM(touch_dynamic_end, 228 * 1024); });
  CHECK(has(e, "kernel 'touch_dynamic_end': cannot raise its dynamic shared memory limit"));
  // A cooperative launch raises the limit itself, as MG_LAUNCH_COOPERATIVE does under nvcc.
  MG_LAUNCH_COOPERATIVE(touch_dynamic_end, 1, 32, 100 * 1024, nullptr)(y.data(), 100 * 256);
  CHECK(y.to_host()[0] == 3.0f);
  // Asking for less never lowers the limit: a launch recorded before with more shared memory
  // (a step graph replayed after a smaller batch's plan) stays valid.
  // The limit is 100 KiB here, from the cooperative launch above.
  CHECK(MG_COOPERATIVE_MAX_BLOCKS(touch_dynamic_end, 32, 80 * 1024) > 0);
  MG_RAISE_MAX_DYNAMIC_SMEM(touch_dynamic_end, 60 * 1024);
  MG_LAUNCH(touch_dynamic_end, 1, 32, 100 * 1024, nullptr)(y.data(), 100 * 256);
  CHECK(y.to_host()[0] == 3.0f);
  MG_SET_MAX_DYNAMIC_SMEM(touch_dynamic_end, k48);  // back to the default, for other tests
}

TEST_CASE("emu: out-of-bounds global reads and writes are reported") {
  DeviceBuffer<float> x(std::vector<float>(64, 1.0f)), y(64);  // 256 bytes: ends on the guard
  SUBCASE("read past the end traps at the guard page") {
    const std::string e = error_of([&] {
      MG_LAUNCH(read_at, 1, 32, 0, nullptr)
      (x.data(), y.data(), 40);
    });
    CHECK(has(e, "kernel 'read_at' block (0,0,0): thread (24,0,0): invalid read"));
    CHECK(has(e, "0 bytes past the end of device allocation"));
    CHECK(has(e, "of 256 bytes"));
  }
  SUBCASE("write past the end traps at the guard page") {
    const std::string e = error_of([&] { MG_LAUNCH(write_at, 1, 32, 0, nullptr)(y.data(), 33); });
    CHECK(has(e, "kernel 'write_at'"));
    CHECK(has(e, "thread (31,0,0): invalid write"));
    CHECK(has(e, "past the end of device allocation"));
  }
  SUBCASE("a write into the alignment slack is found by the guard check after the launch") {
    DeviceBuffer<float> z(10);  // 40 bytes, padded to 48: z[10] and z[11] are slack
    const std::string e = error_of([&] { MG_LAUNCH(write_at, 1, 1, 0, nullptr)(z.data(), 10); });
    CHECK(has(e, "kernel 'write_at' wrote out of bounds"));
    CHECK(has(e, "(40 bytes)"));
    CHECK(has(e, "0 past the end"));
  }
  SUBCASE("a write just before the start is found by the guard check") {
    const std::string e = error_of([&] { MG_LAUNCH(write_at, 1, 1, 0, nullptr)(y.data(), -1); });
    CHECK(has(e, "kernel 'write_at' wrote out of bounds"));
    CHECK(has(e, "before the start"));
  }
  SUBCASE("a null pointer and a wild pointer") {
    std::string e = error_of([&] { MG_LAUNCH(write_at, 1, 1, 0, nullptr)(nullptr, 0); });
    CHECK(has(e, "invalid write"));
    CHECK(has(e, "null pointer"));
    e = error_of([&] { MG_LAUNCH(read_at, 1, 1, 0, nullptr)(x.data(), y.data(), 1 << 28); });
    CHECK(has(e, "invalid read"));
    CHECK(has(e, "not device memory"));
  }
  // After any of these the emulator keeps working.
  MG_LAUNCH(read_at, 1, 32, 0, nullptr)(x.data(), y.data(), 32);
  CHECK(y.to_host()[0] == 1.0f);
}

TEST_CASE("emu: fresh device memory reads as poison; free checks its pointer") {
  DeviceBuffer<float> x(7);
  for (float v : x.to_host()) CHECK(std::isnan(v));
  void* p = melgrad::emu::malloc(0);
  CHECK(p != nullptr);
  CHECK(melgrad::emu::is_device_pointer(p));
  melgrad::emu::free(p);
  CHECK_FALSE(melgrad::emu::is_device_pointer(p));
  int local = 0;
  CHECK_THROWS_AS(melgrad::emu::free(&local), std::invalid_argument);
}
