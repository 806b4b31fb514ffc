// transpose and strided_copy (kernels/transpose.cu) against their references: odd shapes
// (partial tiles on both sides), batches, permuted 4-D views, broadcast sources, 4- and
// 8-byte elements, and the dispatch of transpose-shaped copies to the tiled kernel. Copies
// are exact, so results are compared for equality.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "kernels/transpose.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

std::vector<int64_t> iota64(int64_t n, int64_t start) {
  std::vector<int64_t> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = start + i * 1000003;
  return v;
}

// Strides of a contiguous tensor of `sizes` read through the permutation `perm`
// (PyTorch's x.permute(perm)): the view's dimension d is the source's dimension perm[d].
Strides permuted_strides(const Shape& source, const std::vector<int>& perm) {
  const Strides src = contiguous_strides(source);
  Strides s;
  for (std::size_t d = 0; d < perm.size(); ++d) s.v[d] = src.v[perm[d]];
  return s;
}

Shape permuted_shape(const Shape& source, const std::vector<int>& perm) {
  Shape s;
  s.ndim = source.ndim;
  for (std::size_t d = 0; d < perm.size(); ++d) s.sizes[d] = source.sizes[perm[d]];
  return s;
}

template <class T>
void check_copy(const Shape& shape, const Strides& xs, const std::vector<T>& x,
                std::size_t y_size) {
  StridedCopyParams p;
  p.element_size = sizeof(T);
  p.shape = shape;
  p.x_strides = xs;
  p.y_strides = contiguous_strides(shape);
  std::vector<T> expected(y_size);
  p.x = x.data();
  p.y = expected.data();
  strided_copy_reference(p);
  for_each_schedule([&] {
    DeviceBuffer<T> dx(x), dy(y_size);
    StridedCopyParams q = p;
    q.x = dx.data();
    q.y = dy.data();
    strided_copy(q);
    CHECK(dy.to_host() == expected);
  });
}

}  // namespace

TEST_CASE("transpose matches the reference on partial tiles and batches") {
  struct Case {
    int64_t batch, rows, cols;
  };
  for (Case c : {Case{1, 1, 1}, Case{1, 33, 65}, Case{3, 64, 32}, Case{2, 100, 7}, Case{1, 1, 300},
                 Case{4, 31, 1}, Case{300, 3, 5}}) {  // the last: blocks loop over the batch
    CAPTURE(c.batch);
    CAPTURE(c.rows);
    CAPTURE(c.cols);
    const auto x = random_floats(static_cast<std::size_t>(c.batch * c.rows * c.cols), 3, -1, 1);
    std::vector<float> expected(x.size());
    transpose_reference({x.data(), expected.data(), c.batch, c.rows, c.cols});
    for_each_schedule([&] {
      DeviceBuffer<float> dx(x), dy(x.size());
      transpose({dx.data(), dy.data(), c.batch, c.rows, c.cols});
      CHECK(dy.to_host() == expected);
    });
  }
}

TEST_CASE("strided_copy: permuted views, broadcasts and 8-byte elements") {
  const Shape src{2, 3, 4, 5};
  const auto xf = random_floats(120, 9, -1, 1);
  const auto xi = iota64(120, -7);
  for (const std::vector<int>& perm :
       {std::vector<int>{0, 2, 3, 1}, std::vector<int>{3, 2, 1, 0}, std::vector<int>{1, 0, 3, 2},
        std::vector<int>{0, 1, 2, 3}}) {
    CAPTURE(perm[0]);
    CAPTURE(perm[1]);
    CAPTURE(perm[2]);
    check_copy<float>(permuted_shape(src, perm), permuted_strides(src, perm), xf, 120);
    check_copy<int64_t>(permuted_shape(src, perm), permuted_strides(src, perm), xi, 120);
  }
  // A row vector broadcast down 7 rows (stride 0), and a column slice (stride 5).
  Strides bcast;
  bcast.v[0] = 0;
  bcast.v[1] = 1;
  check_copy<float>(Shape{7, 5}, bcast, random_floats(5, 2, -1, 1), 35);
  Strides column;
  column.v[0] = 5;
  check_copy<int64_t>(Shape{24}, column, xi, 24);
  check_copy<float>(Shape{}, Strides{}, xf, 1);  // a scalar
}

TEST_CASE("strided_copy sends (batched) transposes to the tiled kernel") {
  // x.t() of a contiguous [96, 64] is a [64, 96] view with strides [1, 64]; batched: [3, ...].
  const auto x = random_floats(3 * 96 * 64, 4, -1, 1);
  const auto xi = iota64(96 * 64, 5);
  Strides t2;
  t2.v[0] = 1;
  t2.v[1] = 64;
  Strides t3;
  t3.v[0] = 96 * 64;
  t3.v[1] = 1;
  t3.v[2] = 64;
  check_copy<float>(Shape{64, 96}, t2, x, 64 * 96);
  check_copy<int64_t>(Shape{64, 96}, t2, xi, 64 * 96);
  check_copy<float>(Shape{3, 64, 96}, t3, x, 3 * 64 * 96);
#if MELGRAD_KERNELS_EMU
  // The tiled kernel runs 2 x 3 tiles per batch entry; the generic one would run 24 blocks.
  DeviceBuffer<float> dx(x), dy(x.size());
  StridedCopyParams p;
  p.x = dx.data();
  p.y = dy.data();
  p.shape = Shape{3, 64, 96};
  p.x_strides = t3;
  p.y_strides = contiguous_strides(p.shape);
  const uint64_t before = melgrad::emu::stats().blocks;
  strided_copy(p);
  CHECK(melgrad::emu::stats().blocks - before == 3 * 2 * 3);
#endif
}

TEST_CASE("transpose and strided_copy validate their parameters") {
  DeviceBuffer<float> a(16);
  CHECK_THROWS_WITH_AS(transpose({a.data(), a.data(), 1, 4, 4}),
                       "transpose: in place (x == y) is not supported", std::invalid_argument);
  CHECK_THROWS_WITH_AS(transpose({a.data(), nullptr, 1, 4, 4}), "transpose: y is null",
                       std::invalid_argument);
  StridedCopyParams p;
  p.x = a.data();
  p.y = a.data();
  p.shape = Shape{4};
  p.element_size = 2;
  CHECK_THROWS_WITH_AS(strided_copy(p), "strided_copy: element_size must be 4 or 8 bytes (got 2)",
                       std::invalid_argument);
  p.element_size = 4;
  p.shape.sizes[0] = -3;
  CHECK_THROWS_WITH_AS(strided_copy(p), "strided_copy: shape.sizes[0] must be >= 0 (got -3)",
                       std::invalid_argument);
}
