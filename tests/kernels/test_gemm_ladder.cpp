// The GEMM ladder (kernels/ladder/) against the CPU reference: every rung on shapes that
// are multiples of the tiles, shapes that are not (partial tiles in m, n and k), skinny
// ones, k = 0, and operands whose rows are not 16-byte aligned (the float4 rungs' scalar
// path), under the emulator's schedules. tf32 runs only on a GPU (the emulator says it
// cannot run tensor-core code: that message is checked); cublas only in the GPU build.
// Tolerance: as tests/kernels/test_gemm.cpp, float32 accumulation of k products of values
// in [-1, 1] against a float64 reference: atol 2e-6 (k + 1), rtol 1e-5; tf32 (10-bit
// mantissas) gets 2e-3 (k + 1).
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/ladder/gemm_ladder.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

struct Shape3 {
  int64_t m, n, k;
};

// C = A @ B through `rung` on the device, compared with the reference.
void check_rung(int rung, Shape3 s, bool all_schedules) {
  const LadderRung& r = ladder_gemm_rungs()[rung];
  INFO("rung v" << rung + 1 << " " << r.name << " m=" << s.m << " n=" << s.n << " k=" << s.k);
  const std::vector<float> a = random_floats(s.m * s.k, 11 + s.m, -1, 1);
  const std::vector<float> b = random_floats(s.k * s.n, 13 + s.n, -1, 1);
  std::vector<float> expected(s.m * s.n, 0.0f);
  ladder_gemm_reference({s.m, s.n, s.k, a.data(), b.data(), expected.data()});
  const double atol = (r.float32_exact ? 2e-6 : 2e-3) * static_cast<double>(s.k + 1);
  auto run = [&] {
    DeviceBuffer<float> da(a), db(b);
    DeviceBuffer<float> dc(random_floats(s.m * s.n, 17, -1, 1));  // overwritten, never read
    ladder_gemm(rung, {s.m, s.n, s.k, da.data(), db.data(), dc.data()});
    check_close(dc.to_host(), expected, atol, r.float32_exact ? 1e-5 : 1e-2);
  };
  if (all_schedules)
    for_each_schedule(run);
  else
    run();
}

bool runs_here(const LadderRung& r) {
#if MELGRAD_KERNELS_EMU
  return r.name != "tf32";
#else
  (void)r;
  return true;
#endif
}

}  // namespace

TEST_CASE("gemm ladder: every rung matches the reference, tile multiples and ragged shapes") {
  const Shape3 shapes[] = {{64, 64, 32}, {128, 64, 48},  // multiples of every tile
                           {33, 65, 17}, {70, 37, 9},    // ragged in m, n and k
                           {1, 130, 20}, {97, 3, 40},    // skinny
                           {5, 7, 0}};                   // k = 0: C = 0
  const auto& rungs = ladder_gemm_rungs();
  for (int rung = 0; rung < static_cast<int>(rungs.size()); ++rung) {
    if (!runs_here(rungs[rung])) continue;
    for (const Shape3& s : shapes) check_rung(rung, s, /*all_schedules=*/false);
    check_rung(rung, {40, 72, 24}, /*all_schedules=*/true);  // barriers under every schedule
  }
}

TEST_CASE("gemm ladder: float4 rungs take the scalar path on unaligned rows") {
  // k = 6 and n = 10: rows start 24 and 40 bytes apart, so float4 would be misaligned.
  for (const char* v : {"vectorized", "warptile"})
    check_rung(ladder_gemm_find(v), {19, 10, 6}, true);
}

TEST_CASE("gemm ladder: variants by name or number; errors name what is wrong") {
  CHECK(ladder_gemm_find("v1") == 0);
  CHECK(ladder_gemm_find("3") == 2);
  CHECK(ladder_gemm_find("warptile") == 6);
  CHECK_THROWS_WITH_AS(ladder_gemm_find("v99"), doctest::Contains("v7 warptile"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ladder_gemm(0, {-1, 2, 3, nullptr, nullptr, nullptr}),
                       doctest::Contains("m=-1"), std::invalid_argument);
#if MELGRAD_KERNELS_EMU
  DeviceBuffer<float> a(4), b(4), c(4);
  CHECK_THROWS_WITH_AS(
      ladder_gemm(ladder_gemm_find("tf32"), {2, 2, 2, a.data(), b.data(), c.data()}),
      doctest::Contains("emulator"), std::runtime_error);
#endif
}
