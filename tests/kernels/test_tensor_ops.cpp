// Tensor kernels of kernels/tensor_ops.cu (fill, strided copy with dtype conversion, where)
// against their CPU references, through every emulator schedule, on odd sizes, transposed and
// broadcast (stride-0) operands and every dtype pair. They move or select values, so they
// must match exactly. (Comparisons and the scalar maps are elementwise ops:
// tests/kernels/test_elementwise.cpp.)
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/tensor_ops.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

// Bytes of n elements of type t holding the values of `v` (converted).
std::vector<unsigned char> typed_bytes(const std::vector<float>& v, ElemType t) {
  std::vector<unsigned char> out(v.size() * elem_size(t));
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (t == ElemType::f32) std::memcpy(&out[i * 4], &v[i], 4);
    if (t == ElemType::f64) {
      const double d = v[i];
      std::memcpy(&out[i * 8], &d, 8);
    }
    if (t == ElemType::i64) {
      const int64_t k = static_cast<int64_t>(v[i]);
      std::memcpy(&out[i * 8], &k, 8);
    }
  }
  return out;
}

// A transposed view: iteration shape [r, c] reading a [c, r] row-major buffer.
Strides transposed(int64_t r, int64_t c) {
  (void)c;
  Strides s;
  s.v[0] = 1;
  s.v[1] = r;
  return s;
}

}  // namespace

TEST_CASE("fill: every dtype, contiguous and strided (every other element)") {
  for (ElemType t : {ElemType::f32, ElemType::f64, ElemType::i64}) {
    CAPTURE(static_cast<int>(t));
    FillParams layout;
    layout.type = t;
    layout.shape = Shape{7, 37};
    layout.y_strides = contiguous_strides(layout.shape);
    layout.value = -2.5;  // int64: -2
    for (bool strided : {false, true}) {
      FillParams p = layout;
      if (strided) p.y_strides.v[1] = 2, p.y_strides.v[0] = 2 * 37;
      const std::size_t n = 7 * 37 * (strided ? 2 : 1);
      std::vector<unsigned char> expected = typed_bytes(std::vector<float>(n, 9.0f), t);
      p.y = expected.data();
      fill_reference(p);
      for_each_schedule([&] {
        DeviceBuffer<unsigned char> dy(typed_bytes(std::vector<float>(n, 9.0f), t));
        p.y = dy.data();
        fill(p);
        CHECK(dy.to_host() == expected);
      });
    }
  }
}

TEST_CASE("strided_copy: every dtype pair, transposed source, exact") {
  const int64_t r = 13, c = 33;
  auto x = random_floats(static_cast<std::size_t>(r * c), 11, -50.0f, 50.0f);
  for (ElemType xt : {ElemType::f32, ElemType::f64, ElemType::i64})
    for (ElemType yt : {ElemType::f32, ElemType::f64, ElemType::i64}) {
      CAPTURE(static_cast<int>(xt));
      CAPTURE(static_cast<int>(yt));
      const auto xb = typed_bytes(x, xt);
      CopyParams p;
      p.x_type = xt;
      p.y_type = yt;
      p.shape = Shape{r, c};
      p.x_strides = transposed(r, c);
      p.y_strides = contiguous_strides(p.shape);
      std::vector<unsigned char> expected(static_cast<std::size_t>(r * c) * elem_size(yt), 0);
      p.x = xb.data();
      p.y = expected.data();
      strided_copy_reference(p);
      for_each_schedule([&] {
        DeviceBuffer<unsigned char> dx(xb), dy(expected.size());
        p.x = dx.data();
        p.y = dy.data();
        strided_copy(p);
        CHECK(dy.to_host() == expected);
      });
    }
}

TEST_CASE("strided_copy: scatter into a strided destination leaves the gaps alone") {
  // [4, 5] contiguous into every other column of a [4, 10] buffer (a concat-like slice).
  const auto x = random_floats(20, 3, -1.0f, 1.0f);
  CopyParams p;
  p.shape = Shape{4, 5};
  p.x_strides = contiguous_strides(p.shape);
  p.y_strides.v[0] = 10;
  p.y_strides.v[1] = 2;
  std::vector<float> expected(40, 7.0f);
  p.x = x.data();
  p.y = expected.data();
  strided_copy_reference(p);
  for_each_schedule([&] {
    DeviceBuffer<float> dx(x), dy(std::vector<float>(40, 7.0f));
    p.x = dx.data();
    p.y = dy.data();
    strided_copy(p);
    check_close(dy.to_host(), expected, 0, 0);
  });
}

TEST_CASE("where_select: float and int64 conditions, broadcast operands") {
  const auto a = random_floats(3 * 9, 6, -1.0f, 1.0f), b = random_floats(3, 7, -1.0f, 1.0f);
  const auto cond = random_floats(3 * 9, 8, -1.0f, 1.0f);
  std::vector<float> c01(cond.size());
  for (std::size_t i = 0; i < cond.size(); ++i) c01[i] = cond[i] > 0 ? 1.0f : 0.0f;
  for (ElemType ct : {ElemType::f32, ElemType::f64, ElemType::i64}) {
    CAPTURE(static_cast<int>(ct));
    const auto cb = typed_bytes(c01, ct);
    WhereParams p;
    p.cond_type = ct;
    p.shape = Shape{3, 9};
    p.cond_strides = p.a_strides = p.y_strides = contiguous_strides(p.shape);
    p.b_strides = broadcast_strides(p.shape, Shape{3, 1});
    std::vector<float> expected(27);
    p.cond = cb.data();
    p.a = a.data();
    p.b = b.data();
    p.y = expected.data();
    where_select_reference(p);
    for_each_schedule([&] {
      DeviceBuffer<unsigned char> dc(cb);
      DeviceBuffer<float> da(a), db(b), dy(27);
      p.cond = dc.data();
      p.a = da.data();
      p.b = db.data();
      p.y = dy.data();
      where_select(p);
      check_close(dy.to_host(), expected, 0, 0);
    });
  }
}

TEST_CASE("tensor_ops launchers reject bad parameters with the launcher and the field") {
  CopyParams p;
  p.shape = Shape{4};
  p.x_strides = p.y_strides = contiguous_strides(p.shape);
  CHECK_THROWS_WITH_AS(strided_copy(p), "strided_copy: x is null", std::invalid_argument);
  FillParams f;
  f.shape.ndim = 9;
  DeviceBuffer<float> y(1);
  f.y = y.data();
  CHECK_THROWS_AS(fill(f), std::invalid_argument);
}
