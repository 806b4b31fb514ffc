// The emulator's per-launch counters (kernels/emu/emu_counters.h) on kernels whose answers
// are known by hand: one warp of 32 lanes loading floats 128 bytes apart touches 32 sectors
// per request, consecutive floats 4 (128 bytes); a 32x32 shared tile read down a column
// costs 32 wavefronts (31 conflicts) unpadded and 1 padded to 33 columns; a broadcast has
// no conflict; float4 reads of consecutive shared words take 4 phases without conflict;
// a branch on the lane's parity diverges, one on the warp index does not; barriers count
// once per block. Emulator build only (the counters do not exist on a GPU).
#include <doctest/doctest.h>

#if MELGRAD_KERNELS_EMU

#include <functional>
#include <stdexcept>
#include <vector>

#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;
namespace counters = melgrad::emu::counters;
using counters::Access;

namespace {

constexpr int kLoad = static_cast<int>(Access::global_load);
constexpr int kStore = static_cast<int>(Access::global_store);
constexpr int kSharedLoad = static_cast<int>(Access::shared_load);

// Lane i loads x[i * stride] and stores it to y[i].
__global__ void strided_copy(const float* x, float* y, int stride) {
  const int i = static_cast<int>(threadIdx.x);
  MG_STG(&y[i], MG_LDG(&x[i * stride]));
}

// Lane i reads column `col` of a 32-row shared tile whose rows are `ld` floats long
// (ld = 32: every lane hits the same bank; ld = 33: 32 different banks).
template <int kLd>
__global__ void column_read(float* out, int col) {
  MG_SHARED(float, tile, 32 * kLd);
  const int i = static_cast<int>(threadIdx.x);
  for (int c = 0; c < kLd; ++c) MG_STS(&tile[i * kLd + c], static_cast<float>(c));
  MG_BARRIER();
  out[i] = MG_LDS(&tile[i * kLd + col]) + MG_LDS(&tile[0]);  // the second read: a broadcast
}

// Lane i reads words 4i .. 4i+3 of a 128-float shared array as one 16-byte access.
__global__ void vector_read(float* out) {
  MG_SHARED(float, buffer, 128);
  const int i = static_cast<int>(threadIdx.x);
  for (int e = 0; e < 4; ++e) buffer[4 * i + e] = 1.0f;
  MG_BARRIER();
  MG_LDS_BYTES(&buffer[4 * i], 16);
  out[i] = buffer[4 * i];
}

__global__ void branches(float* out) {
  const int i = static_cast<int>(threadIdx.x);
  float v = 0.0f;
  if (MG_BRANCH(i % 2 == 0)) v = 1.0f;    // lanes disagree: divergent in both warps
  if (MG_BRANCH(i / 32 == 0)) v += 2.0f;  // uniform within each warp
  MG_BARRIER();
  MG_BARRIER();
  out[i] = v;
}

// A shared-memory tree sum over 64 threads: at each level the first `half` threads read
// partial[t] and partial[t + half]; fewer and fewer lanes take part, barriers between.
__global__ void tree_sum(float* out) {
  MG_SHARED(float, partial, 64);
  const int t = static_cast<int>(threadIdx.x);
  MG_STS(&partial[t], 1.0f);
  MG_BARRIER();
  for (int half = 32; half > 0; half /= 2) {
    if (MG_BRANCH(t < half)) MG_STS(&partial[t], MG_LDS(&partial[t]) + MG_LDS(&partial[t + half]));
    MG_BARRIER();
  }
  if (t == 0) out[0] = partial[0];
}

counters::Totals count(const std::function<void()>& launch) {
  counters::Session session;
  launch();
  device_synchronize();
  return session.finish();
}

}  // namespace

TEST_CASE("counters: a strided warp load touches 32 sectors per request, a coalesced one 4") {
  DeviceBuffer<float> x(32 * 32), y(32);
  auto copy = [&](int stride) {
    return count([&] { MG_LAUNCH(strided_copy, 1, 32, 0, nullptr)(x.data(), y.data(), stride); });
  };
  const counters::Totals strided = copy(32);
  CHECK(strided.requests[kLoad] == 1);
  CHECK(strided.sectors[kLoad] == 32);
  CHECK(strided.sectors_per_request(Access::global_load) == 32.0);
  CHECK(strided.sectors[kStore] == 4);  // y[i]: 128 consecutive bytes
  CHECK(strided.bytes[kLoad] == 128);
  const counters::Totals coalesced = copy(1);
  CHECK(coalesced.sectors[kLoad] == 4);
  CHECK(coalesced.global_bytes_moved() == 2 * 128);
}

TEST_CASE("counters: an unpadded shared column read is a 32-way bank conflict, a padded one none") {
  DeviceBuffer<float> out(32);
  auto unpadded_read = [&] { MG_LAUNCH(column_read<32>, 1, 32, 0, nullptr)(out.data(), 5); };
  auto padded_read = [&] { MG_LAUNCH(column_read<33>, 1, 32, 0, nullptr)(out.data(), 5); };
  const counters::Totals unpadded = count(unpadded_read);
  CHECK(unpadded.requests[kSharedLoad] == 2);
  CHECK(unpadded.wavefronts[kSharedLoad] == 32 + 1);  // the column, then the broadcast
  CHECK(unpadded.conflicts[kSharedLoad] == 31);
  const counters::Totals padded = count(padded_read);
  CHECK(padded.wavefronts[kSharedLoad] == 2);
  CHECK(padded.conflicts[kSharedLoad] == 0);
  CHECK(padded.barriers == 1);
}

TEST_CASE("counters: float4 reads of consecutive shared words take 4 conflict-free phases") {
  DeviceBuffer<float> out(32);
  const counters::Totals t = count([&] { MG_LAUNCH(vector_read, 1, 32, 0, nullptr)(out.data()); });
  CHECK(t.requests[kSharedLoad] == 1);
  CHECK(t.wavefronts[kSharedLoad] == 4);
  CHECK(t.conflicts[kSharedLoad] == 0);
}

TEST_CASE(
    "counters: a tree reduction's shrinking levels stay separate requests (no false conflicts)") {
  DeviceBuffer<float> out(1);
  const counters::Totals t = count([&] { MG_LAUNCH(tree_sum, 1, 64, 0, nullptr)(out.data()); });
  CHECK(out.to_host()[0] == 64.0f);
  // Levels 32, 16, 8, 4, 2, 1: one warp active each time, two reads: 12 requests.
  CHECK(t.requests[kSharedLoad] == 12);
  CHECK(t.conflicts[kSharedLoad] == 0);
  CHECK(t.barriers == 7);
  CHECK(t.branches == 6 * 2);
  CHECK(t.divergent_branches == 5);  // levels 16..1 split warp 0; level 32 splits no warp
}

TEST_CASE("counters: divergent branches per warp, barriers per block, nothing outside a session") {
  DeviceBuffer<float> out(3 * 64);
  const counters::Totals t = count([&] { MG_LAUNCH(branches, 3, 64, 0, nullptr)(out.data()); });
  CHECK(t.branches == 3 * 2 * 2);        // 3 blocks x 2 warps x 2 branch sites
  CHECK(t.divergent_branches == 3 * 2);  // the parity branch in every warp
  CHECK(t.barriers == 3 * 2);
  MG_LAUNCH(branches, 1, 64, 0, nullptr)(out.data());  // no session: nothing recorded
  const counters::Totals empty = count([] {});
  CHECK(empty.branches == 0);
  counters::Session first;
  CHECK_THROWS_AS(counters::Session(), std::logic_error);
}

#endif  // MELGRAD_KERNELS_EMU
