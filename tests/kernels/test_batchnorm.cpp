// BatchNorm kernels (kernels/batchnorm.cu) against their CPU references: training with and
// without running statistics (track_running_stats = True / False), eval with running
// statistics (fused scale / shift), eval without (batch statistics, as the study runs),
// affine and not, [N, C, S] with S = 1 and odd sizes, and a split reduction (many blocks per
// channel). The reductions merge partial results in a fixed order, so every schedule must
// give bit-identical outputs; that is checked too.
// Tolerances: statistics are float32 Welford merges of <= a few thousand O(1) values
// (relative error ~1e-6); y = x * scale + shift is O(3); 1e-5 absolute + 1e-5 relative.
// The backward sums dy (x - mean) over M values: 2e-5 absolute + 1e-4 relative.
#include <doctest/doctest.h>

#include <vector>

#include "kernels/batchnorm.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

struct Mode {
  const char* name;
  bool training, running, affine;
};

struct Sizes {
  int64_t N, C, S;
};

struct Results {
  std::vector<float> y, mean, invstd, rm, rv, dx, dw, db;
};

// Runs forward then backward, on the device (device = true, with `impl`) or through the
// references.
Results run(const Sizes& z, const Mode& m, bool device, uint64_t seed,
            DnnImpl impl = DnnImpl::melgrad) {
  const std::size_t n = static_cast<std::size_t>(z.N * z.C * z.S),
                    c = static_cast<std::size_t>(z.C);
  // An offset mean (3) checks the statistics' accuracy beyond a plain sum of squares.
  std::vector<float> x = random_floats(n, seed, 1.0f, 5.0f);
  const std::vector<float> dy = random_floats(n, seed + 1, -1.0f, 1.0f);
  const std::vector<float> w = random_floats(c, seed + 2, 0.5f, 1.5f),
                           b = random_floats(c, seed + 3, -0.5f, 0.5f);
  Results r{std::vector<float>(n),
            std::vector<float>(c),
            std::vector<float>(c),
            random_floats(c, seed + 4, -0.5f, 0.5f),
            random_floats(c, seed + 5, 0.5f, 2.0f),
            std::vector<float>(n),
            std::vector<float>(c),
            std::vector<float>(c)};
  BatchNormForwardParams f;
  f.N = z.N, f.C = z.C, f.S = z.S;
  f.training = m.training;
  f.momentum = 0.1;
  f.eps = 1e-5;
  BatchNormBackwardParams g;
  g.N = z.N, g.C = z.C, g.S = z.S;
  g.batch_stats = m.training || !m.running;
  if (!device) {
    f.x = x.data(), f.y = r.y.data(), f.save_mean = r.mean.data(), f.save_invstd = r.invstd.data();
    if (m.affine) f.weight = w.data(), f.bias = b.data();
    if (m.running) f.running_mean = r.rm.data(), f.running_var = r.rv.data();
    batch_norm_forward_reference(f);
    g.x = x.data(), g.dy = dy.data(), g.save_mean = r.mean.data(), g.save_invstd = r.invstd.data();
    g.weight = f.weight, g.dx = r.dx.data(), g.dweight = r.dw.data(), g.dbias = r.db.data();
    batch_norm_backward_reference(g);
    return r;
  }
  DeviceBuffer<float> dxv(x), ddy(dy), dw(w), db(b), y(n), mean(c), invstd(c), rm(r.rm), rv(r.rv),
      dx(n), ddw(c), ddb(c);
  f.x = dxv.data(), f.y = y.data(), f.save_mean = mean.data(), f.save_invstd = invstd.data();
  if (m.affine) f.weight = dw.data(), f.bias = db.data();
  if (m.running) f.running_mean = rm.data(), f.running_var = rv.data();
  f.impl = impl;
  batch_norm_forward(f);
  g.x = dxv.data(), g.dy = ddy.data(), g.save_mean = mean.data(), g.save_invstd = invstd.data();
  g.weight = f.weight, g.dx = dx.data(), g.dweight = ddw.data(), g.dbias = ddb.data();
  g.impl = g.batch_stats ? impl : DnnImpl::melgrad;  // cuDNN has no running-stats backward
  DeviceBuffer<float> ws(batch_norm_backward_workspace_bytes(g) / sizeof(float));
  g.workspace = ws.data(), g.workspace_bytes = ws.size() * sizeof(float);
  batch_norm_backward(g);
  return {y.to_host(),  mean.to_host(), invstd.to_host(), rm.to_host(),
          rv.to_host(), dx.to_host(),   ddw.to_host(),    ddb.to_host()};
}

const Mode kModes[] = {
    {"training, batch stats only (track_running_stats=False)", true, false, true},
    {"training, running stats updated", true, true, true},
    {"eval, running stats: fused scale/shift", false, true, true},
    {"eval without running stats: batch stats", false, false, true},
    {"training, no affine", true, true, false}};

}  // namespace

TEST_CASE("batch_norm forward and backward match the reference in every mode") {
  for (const Sizes& z : {Sizes{4, 3, 35}, Sizes{2, 5, 1}, Sizes{1, 2, 4097}, Sizes{7, 1, 9}}) {
    CAPTURE(z.N);
    CAPTURE(z.C);
    CAPTURE(z.S);
    for (const Mode& m : kModes) {
      CAPTURE(m.name);
      const Results ref = run(z, m, false, 21);
      std::vector<float> first_y, first_dx;
      for_each_schedule([&] {
        const Results got = run(z, m, true, 21);
        check_close(got.mean, ref.mean, 1e-5, 1e-5);
        check_close(got.invstd, ref.invstd, 1e-5, 1e-5);
        check_close(got.rm, ref.rm, 1e-6, 1e-5);
        check_close(got.rv, ref.rv, 1e-6, 1e-5);
        check_close(got.y, ref.y, 1e-5, 1e-5);
        check_close(got.db, ref.db, 2e-5, 1e-4);
        check_close(got.dw, ref.dw, 2e-5, 1e-4);
        check_close(got.dx, ref.dx, 2e-5, 1e-4);
        // Deterministic: every schedule gives the first one's bits.
        if (first_y.empty()) {
          first_y = got.y, first_dx = got.dx;
        } else {
          CHECK(got.y == first_y);
          CHECK(got.dx == first_dx);
        }
      });
    }
  }
}

TEST_CASE("batch_norm statistics: normalised output has zero mean and unit variance") {
  const Sizes z{3, 2, 50};
  const Results r = run(z, kModes[1], true, 5);
  const Results x_ref = run(z, kModes[1], false, 5);
  check_close(r.y, x_ref.y, 1e-5, 1e-5);
  // Normalise without the affine step: y' = (y - b) / w has per-channel mean 0, variance 1.
  const Results plain = run(z, kModes[4], true, 5);
  for (int64_t c = 0; c < z.C; ++c) {
    double s1 = 0, s2 = 0;
    for (int64_t n = 0; n < z.N; ++n)
      for (int64_t s = 0; s < z.S; ++s) {
        const double v = plain.y[static_cast<std::size_t>((n * z.C + c) * z.S + s)];
        s1 += v, s2 += v * v;
      }
    const double m = s1 / (z.N * z.S);
    CHECK(m == doctest::Approx(0.0).scale(1.0).epsilon(1e-5));
    CHECK(s2 / (z.N * z.S) - m * m == doctest::Approx(1.0).epsilon(1e-4));  // eps = 1e-5 shrinks it
  }
}

TEST_CASE("batch_norm launchers validate their parameters") {
  DeviceBuffer<float> a(16);
  BatchNormForwardParams f;
  f.x = a.data(), f.y = a.data(), f.save_mean = a.data(), f.save_invstd = a.data();
  f.N = 1, f.C = 2, f.S = 1;
  f.impl = DnnImpl::melgrad;
  CHECK_THROWS_WITH_AS(
      batch_norm_forward(f),
      "batch_norm_forward: expected more than 1 value per channel when using batch "
      "statistics (N 1, S 1)",
      std::invalid_argument);
  f.N = 2;
  f.running_mean = a.data();
  CHECK_THROWS_WITH_AS(
      batch_norm_forward(f),
      "batch_norm_forward: running_mean and running_var must be given together (or both null)",
      std::invalid_argument);
  f.running_mean = nullptr;
  f.eps = 0;
  CHECK_THROWS_AS(batch_norm_forward(f), std::invalid_argument);
  f.eps = 1e-5;
  f.save_invstd = nullptr;
  CHECK_THROWS_WITH_AS(batch_norm_forward(f), "batch_norm_forward: save_invstd is null",
                       std::invalid_argument);
  if (!cudnn_built()) {
    f.save_invstd = a.data();
    f.weight = f.bias = a.data();
    f.impl = DnnImpl::cudnn;
    CHECK_THROWS_AS(batch_norm_forward(f), std::invalid_argument);
  }
}

// GPU build with cuDNN only (skipped elsewhere): cuDNN's spatial batch norm against the
// melgrad kernels in every affine mode, at a study-like shape.
TEST_CASE("batch_norm melgrad kernels agree with cuDNN" * doctest::skip(!cudnn_built())) {
  const Sizes z{8, 16, 64 * 20};
  for (const Mode& m : kModes) {
    if (!m.affine) continue;  // cuDNN needs weight and bias
    CAPTURE(m.name);
    const Results a = run(z, m, true, 3, DnnImpl::melgrad), b = run(z, m, true, 3, DnnImpl::cudnn);
    check_close(b.y, a.y, 1e-4, 1e-4);
    check_close(b.mean, a.mean, 1e-5, 1e-5);
    check_close(b.invstd, a.invstd, 1e-5, 1e-4);
    check_close(b.rm, a.rm, 1e-5, 1e-5);
    check_close(b.rv, a.rv, 1e-5, 1e-4);
    check_close(b.dx, a.dx, 1e-4, 1e-3);
    check_close(b.dw, a.dw, 1e-3, 1e-3);
    check_close(b.db, a.db, 1e-3, 1e-3);
  }
}
