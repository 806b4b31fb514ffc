// gemm (kernels/gemm.cu) against gemm_reference: all four transposition cases, both tile
// shapes of the melgrad kernel, odd sizes (partial tiles in m, n and k), padded leading
// dimensions, the float4 path (aligned operands) and the scalar path (misaligned ones),
// batches with a broadcast operand, beta == 0 over NaN, k == 0, and the implementation
// switch. On a GPU (test_kernels_cuda) every case also runs through cuBLAS.
// Tolerance: float32 accumulation of k products of values in [-1, 1] against a float64
// reference; the rounding error grows like sqrt(k) * 6e-8 * |values| in practice and is
// bounded by k * 6e-8 * sum|a b| <= k^2 * 6e-8; atol = 2e-6 * (k + 1) covers k <= 300 with
// room, while one dropped or doubled product (|a b| ~ 0.25 on average) is far outside it.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

struct Case {
  bool trans_a, trans_b;
  int64_t m, n, k;
  int64_t pad = 0;     // extra elements per row of every operand (leading dimension slack)
  int64_t offset = 0;  // the operands start this many floats into their buffers
  int64_t batch = 1;
  bool broadcast_b = false;  // stride_b = 0: one B for every batch entry
};

std::string describe(const Case& c) {
  return std::string(c.trans_a ? "T" : "N") + (c.trans_b ? "T" : "N") +
         " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
         " pad=" + std::to_string(c.pad) + " offset=" + std::to_string(c.offset) +
         " batch=" + std::to_string(c.batch) + (c.broadcast_b ? " broadcast B" : "");
}

// Host operands of a case and the GemmParams that describe them (pointers left to fill).
struct Operands {
  GemmParams p;
  std::vector<float> a, b, c;
};

Operands make_operands(const Case& cs, float alpha, float beta, uint64_t seed) {
  Operands o;
  GemmParams& p = o.p;
  p.trans_a = cs.trans_a;
  p.trans_b = cs.trans_b;
  p.m = cs.m;
  p.n = cs.n;
  p.k = cs.k;
  p.alpha = alpha;
  p.beta = beta;
  const int64_t a_rows = cs.trans_a ? cs.k : cs.m, a_cols = cs.trans_a ? cs.m : cs.k;
  const int64_t b_rows = cs.trans_b ? cs.n : cs.k, b_cols = cs.trans_b ? cs.k : cs.n;
  p.lda = std::max<int64_t>(a_cols, 1) + cs.pad;
  p.ldb = std::max<int64_t>(b_cols, 1) + cs.pad;
  p.ldc = cs.n + cs.pad;
  p.batch = cs.batch;
  p.stride_a = a_rows * p.lda;
  p.stride_b = cs.broadcast_b ? 0 : b_rows * p.ldb;
  p.stride_c = cs.m * p.ldc;
  const int64_t b_count = cs.broadcast_b ? 1 : cs.batch;
  o.a = random_floats(static_cast<std::size_t>(cs.offset + cs.batch * p.stride_a), seed, -1, 1);
  o.b = random_floats(static_cast<std::size_t>(cs.offset + b_count * b_rows * p.ldb), seed + 1, -1,
                      1);
  o.c = random_floats(static_cast<std::size_t>(cs.offset + cs.batch * p.stride_c), seed + 2, -1, 1);
  return o;
}

double tolerance(int64_t k) { return 2e-6 * static_cast<double>(k + 1); }

// Runs the case through `impl` on the device and compares all of C (padding included: the
// kernel must not write outside the m x n window) with the reference.
void check_case(const Case& cs, GemmImpl impl, int tile, float alpha = 1.5f, float beta = -0.5f) {
  const std::string what =
      describe(cs) + " impl=" + gemm_impl_name(impl) + " tile=" + std::to_string(tile);
  INFO(what);
  Operands o =
      make_operands(cs, alpha, beta, 100 + static_cast<uint64_t>(cs.m * 7 + cs.n * 3 + cs.k));
  std::vector<float> expected = o.c;
  GemmParams ref = o.p;
  ref.a = o.a.data() + cs.offset;
  ref.b = o.b.data() + cs.offset;
  ref.c = expected.data() + cs.offset;
  gemm_reference(ref);
  for_each_schedule([&] {
    DeviceBuffer<float> da(o.a), db(o.b), dc(o.c);
    GemmParams p = o.p;
    p.a = da.data() + cs.offset;
    p.b = db.data() + cs.offset;
    p.c = dc.data() + cs.offset;
    p.impl = impl;
    p.tile = tile;
    gemm(p);
    check_close(dc.to_host(), expected, tolerance(cs.k), 1e-5);
  });
}

}  // namespace

TEST_CASE("gemm matches the reference in all transposition cases, both tiles, odd sizes") {
  const std::vector<Case> shapes = {{false, false, 1, 1, 1},    {false, false, 7, 5, 3},
                                    {false, false, 33, 65, 17}, {false, false, 130, 70, 40},
                                    {false, false, 5, 131, 9},  {false, false, 64, 64, 64}};
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (Case c : shapes) {
        c.trans_a = ta;
        c.trans_b = tb;
        for (int tile : {64, 128}) check_case(c, GemmImpl::melgrad, tile);
      }
    }
  }
}

TEST_CASE("gemm: float4 path on aligned operands, scalar path on misaligned ones") {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      // Aligned: sizes and leading dimensions multiples of 4, k not a multiple of the slice.
      check_case({ta, tb, 68, 72, 36, 4, 0}, GemmImpl::melgrad, 64);
      check_case({ta, tb, 132, 136, 20, 4, 0}, GemmImpl::melgrad, 128);
      // Aligned leading dimensions but a base one float in: every access is scalar.
      check_case({ta, tb, 68, 72, 36, 4, 1}, GemmImpl::melgrad, 64);
      // Edges inside a float4: m, n, k not multiples of 4, but pad 2 makes every leading
      // dimension a multiple of 4, so the float4 path runs and must stop at the edges.
      check_case({ta, tb, 66, 70, 30, 2, 0}, GemmImpl::melgrad, 64);
    }
  }
}

TEST_CASE("gemm: batches, a broadcast operand and the implementations this build has") {
  for (GemmImpl impl : available_gemm_impls()) {
    check_case({false, false, 20, 36, 12, 0, 0, 3, false}, impl, 0);
    check_case({true, false, 20, 36, 12, 0, 0, 3, true}, impl, 0);
    check_case({false, true, 33, 17, 65, 0, 0, 2, true}, impl, 64);
    check_case({true, true, 9, 130, 7, 0, 0, 4, false}, impl, 0);
    check_case({false, true, 130, 140, 16, 4, 0, 2, false}, impl, 0);  // picks the large tile
  }
}

TEST_CASE("gemm: beta == 0 ignores C (NaN overwritten), k == 0 scales C") {
  for (GemmImpl impl : available_gemm_impls()) {
    INFO(gemm_impl_name(impl));
    const int64_t m = 9, n = 11, k = 5;
    const auto a = random_floats(m * k, 1, -1, 1), b = random_floats(k * n, 2, -1, 1);
    std::vector<float> c(m * n, std::numeric_limits<float>::quiet_NaN());
    GemmParams p;
    p.m = m;
    p.n = n;
    p.k = k;
    p.lda = k;
    p.ldb = n;
    p.ldc = n;
    p.a = a.data();
    p.b = b.data();
    p.c = c.data();
    std::vector<float> expected(m * n);
    GemmParams r = p;
    r.c = expected.data();
    gemm_reference(r);
    for_each_schedule([&] {
      DeviceBuffer<float> da(a), db(b), dc(c);
      GemmParams q = p;
      q.a = da.data();
      q.b = db.data();
      q.c = dc.data();
      q.impl = impl;
      gemm(q);
      check_close(dc.to_host(), expected, tolerance(k), 1e-5);
    });

    const auto c0 = random_floats(m * n, 3, -1, 1);
    DeviceBuffer<float> dc(c0);
    GemmParams zero_k = p;
    zero_k.k = 0;
    zero_k.a = zero_k.b = nullptr;
    zero_k.c = dc.data();
    zero_k.beta = 2.0f;
    zero_k.impl = impl;
    gemm(zero_k);
    std::vector<float> doubled(c0);
    for (float& v : doubled) v *= 2.0f;
    CHECK(dc.to_host() == doubled);  // 2 * v is exact
  }
}

TEST_CASE("gemm launcher validates its parameters") {
  DeviceBuffer<float> buf(64);
  GemmParams p;
  p.m = 4;
  p.n = 4;
  p.k = 4;
  p.lda = p.ldb = p.ldc = 4;
  p.a = p.b = buf.data();
  p.c = buf.data() + 16;
  p.lda = 3;
  CHECK_THROWS_WITH_AS(gemm(p), "gemm: lda = 3 is less than 4, the row length of A [m, k]",
                       std::invalid_argument);
  p.lda = 4;
  p.trans_b = true;
  p.ldb = 2;
  CHECK_THROWS_WITH_AS(gemm(p), "gemm: ldb = 2 is less than 4, the row length of B [n, k]",
                       std::invalid_argument);
  p.ldb = 4;
  p.m = -1;
  CHECK_THROWS_WITH_AS(gemm(p), "gemm: m must be >= 0 (got -1)", std::invalid_argument);
  p.m = 4;
  p.batch = 2;
  p.stride_c = 8;
  CHECK_THROWS_WITH_AS(gemm(p),
                       "gemm: stride_c = 8 makes the batch entries of C overlap (at least 16 "
                       "needed)",
                       std::invalid_argument);
  p.batch = 1;
  p.c = nullptr;
  CHECK_THROWS_WITH_AS(gemm(p), "gemm: c is null", std::invalid_argument);
  p.c = buf.data() + 16;
  p.tile = 32;
  CHECK_THROWS_WITH_AS(gemm(p), "gemm: tile must be 0, 64 or 128 (got 32)", std::invalid_argument);
  p.tile = 0;
  p.m = 0;
  p.a = p.b = p.c = nullptr;
  gemm(p);  // empty: nothing to do, no launch
}

TEST_CASE("gemm implementation switch: MELGRAD_GEMM values and the emulator's cuBLAS error") {
  CHECK(parse_gemm_impl("melgrad") == GemmImpl::melgrad);
  CHECK(parse_gemm_impl("cublas") == GemmImpl::cublas);
  CHECK(parse_gemm_impl("melgrad_tf32") == GemmImpl::melgrad_tf32);
  CHECK(parse_gemm_impl("") == GemmImpl::automatic);
  CHECK_THROWS_WITH_AS(parse_gemm_impl("eigen"),
                       "MELGRAD_GEMM: unknown GEMM implementation 'eigen' (expected melgrad, "
                       "cublas or melgrad_tf32)",
                       std::invalid_argument);
  CHECK(default_gemm_impl() != GemmImpl::automatic);
#if MELGRAD_KERNELS_EMU
  CHECK(available_gemm_impls() == std::vector<GemmImpl>{GemmImpl::melgrad});
  DeviceBuffer<float> buf(4);
  GemmParams p;
  p.m = p.n = p.k = 1;
  p.lda = p.ldb = p.ldc = 1;
  p.a = buf.data();
  p.b = buf.data() + 1;
  p.c = buf.data() + 2;
  p.impl = GemmImpl::cublas;
  CHECK_THROWS_WITH_AS(gemm(p),
                       doctest::Contains("this is the emulator build, which has no cuBLAS"),
                       std::runtime_error);
  p.impl = GemmImpl::melgrad_tf32;
  CHECK_THROWS_WITH_AS(gemm(p), doctest::Contains("cannot run tensor-core instructions"),
                       std::runtime_error);
#else
  CHECK(available_gemm_impls().size() == 2);
#endif
}

#if !MELGRAD_KERNELS_EMU
TEST_CASE("gemm: the TF32 tensor-core kernel within TF32 tolerance (GPU only)") {
  // TF32 rounds each input to 10 mantissa bits (relative error <= 2^-11 ~ 4.9e-4 each, so
  // ~1e-3 per product); k products of values in [-1, 1] with random signs: the error grows
  // like sqrt(k) * 1e-3 * 0.5, bounded here by atol 2e-3 * sqrt(k) + 1e-3.
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (Case c : {Case{ta, tb, 1, 1, 1}, Case{ta, tb, 130, 70, 40}, Case{ta, tb, 257, 129, 300},
                     Case{ta, tb, 33, 17, 65, 0, 0, 3, true}}) {
        const std::string what = describe(c);
        INFO(what);
        Operands o = make_operands(c, 1.5f, -0.5f, 7);
        std::vector<float> expected = o.c;
        GemmParams r = o.p;
        r.a = o.a.data();
        r.b = o.b.data();
        r.c = expected.data();
        gemm_reference(r);
        DeviceBuffer<float> da(o.a), db(o.b), dc(o.c);
        GemmParams p = o.p;
        p.a = da.data();
        p.b = db.data();
        p.c = dc.data();
        p.impl = GemmImpl::melgrad_tf32;
        gemm(p);
        check_close(dc.to_host(), expected, 2e-3 * std::sqrt(static_cast<double>(c.k)) + 1e-3,
                    1e-3);
      }
    }
  }
}
#endif
