// Indexing kernels (kernels/indexing.cu) against their CPU references through every emulator
// schedule: argmax with ties (first maximum wins), index_select / gather with repeated
// indices, and index_add / scatter_add, whose sums run in the reference's order and so must
// match it exactly (tolerance 0). Out-of-range indices set the error word instead of
// writing out of bounds.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/indexing.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

std::vector<int64_t> random_indices(std::size_t n, int64_t bound, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> dist(0, bound - 1);
  std::vector<int64_t> v(n);
  for (int64_t& k : v) k = dist(rng);
  return v;
}

}  // namespace

TEST_CASE("argmax: first maximum along the middle and the last dim") {
  struct Split {
    int64_t outer, size, inner;
  };
  for (Split s : {Split{3, 17, 5}, Split{37, 10, 1}, Split{1, 1, 4}}) {
    CAPTURE(s.outer);
    CAPTURE(s.size);
    const std::size_t n = static_cast<std::size_t>(s.outer * s.size * s.inner);
    auto x = random_floats(n, 21, -1.0f, 1.0f);
    for (float& v : x) v = std::round(v * 3.0f);  // few distinct values: many ties
    std::vector<int64_t> expected(static_cast<std::size_t>(s.outer * s.inner));
    argmax_reference({x.data(), expected.data(), s.outer, s.size, s.inner});
    for_each_schedule([&] {
      DeviceBuffer<float> dx(x);
      DeviceBuffer<int64_t> dy(expected.size());
      argmax({dx.data(), dy.data(), s.outer, s.size, s.inner});
      CHECK(dy.to_host() == expected);
    });
  }
}

TEST_CASE("index_select and index_add: repeated rows, every position of the dim") {
  const int64_t outer = 3, D = 6, L = 9, inner = 5;
  const auto x = random_floats(static_cast<std::size_t>(outer * D * inner), 1, -1.0f, 1.0f);
  const auto src = random_floats(static_cast<std::size_t>(outer * L * inner), 2, -1.0f, 1.0f);
  const auto base = random_floats(x.size(), 3, -1.0f, 1.0f);
  const auto index = random_indices(static_cast<std::size_t>(L), D, 4);

  std::vector<float> selected(src.size());
  index_select_reference({x.data(), index.data(), selected.data(), outer, D, L, inner});
  std::vector<float> added = base;
  index_add_reference({added.data(), index.data(), src.data(), outer, D, L, inner});
  for_each_schedule([&] {
    DeviceBuffer<float> dx(x), dsrc(src), dy(src.size()), dacc(base);
    DeviceBuffer<int64_t> di(index);
    DeviceBuffer<int> err(std::vector<int>{0});
    index_select({dx.data(), di.data(), dy.data(), outer, D, L, inner, err.data()});
    check_close(dy.to_host(), selected, 0, 0);
    index_add({dacc.data(), di.data(), dsrc.data(), outer, D, L, inner, err.data()});
    check_close(dacc.to_host(), added, 0, 0);
    CHECK(err.to_host()[0] == 0);
  });
}

TEST_CASE("gather and scatter_add: the cross-entropy pattern and a middle dim") {
  struct Split {
    int64_t outer, size, index_size, inner;
  };
  for (Split s : {Split{33, 10, 1, 1}, Split{4, 5, 7, 3}}) {
    CAPTURE(s.outer);
    const auto x =
        random_floats(static_cast<std::size_t>(s.outer * s.size * s.inner), 5, -1.0f, 1.0f);
    const std::size_t m = static_cast<std::size_t>(s.outer * s.index_size * s.inner);
    const auto src = random_floats(m, 6, -1.0f, 1.0f);
    const auto index = random_indices(m, s.size, 7);
    std::vector<float> gathered(m);
    gather_reference(
        {x.data(), index.data(), gathered.data(), s.outer, s.size, s.index_size, s.inner});
    std::vector<float> scattered = x;
    scatter_add_reference(
        {scattered.data(), index.data(), src.data(), s.outer, s.size, s.index_size, s.inner});
    for_each_schedule([&] {
      DeviceBuffer<float> dx(x), dsrc(src), dy(m), dacc(x);
      DeviceBuffer<int64_t> di(index);
      gather({dx.data(), di.data(), dy.data(), s.outer, s.size, s.index_size, s.inner});
      check_close(dy.to_host(), gathered, 0, 0);
      scatter_add({dacc.data(), di.data(), dsrc.data(), s.outer, s.size, s.index_size, s.inner});
      check_close(dacc.to_host(), scattered, 0, 0);
    });
  }
}

TEST_CASE("an out-of-range index sets the error word and writes nothing out of bounds") {
  const auto x = random_floats(12, 8, -1.0f, 1.0f);
  const std::vector<int64_t> index{1, 3, -1};
  DeviceBuffer<float> dx(x), dy(12), dacc(x);
  DeviceBuffer<int64_t> di(index);

  DeviceBuffer<int> err(std::vector<int>{0});
  index_select({dx.data(), di.data(), dy.data(), 1, 4, 3, 3, err.data()});
  CHECK(err.to_host()[0] == static_cast<int>(IndexError::index_select));
  const auto y = dy.to_host();
  CHECK(y[0] == x[3]);      // index 1, first column
  CHECK(std::isnan(y[6]));  // index -1: NaN
  CHECK(std::string(index_error_name(err.to_host()[0])) == "index_select");

  DeviceBuffer<int> err2(std::vector<int>{0});
  index_add({dacc.data(), di.data(), dx.data(), 1, 4, 3, 3, err2.data()});
  CHECK(err2.to_host()[0] == static_cast<int>(IndexError::index_add));

  std::vector<float> ref(9);
  CHECK_THROWS_AS(index_select_reference({x.data(), index.data(), ref.data(), 1, 4, 3, 3}),
                  std::out_of_range);
}

TEST_CASE("check_range reports values outside [lo, hi] with its code, and only those") {
  DeviceBuffer<int64_t> good(std::vector<int64_t>{1, 5, 3, 1, 5});
  DeviceBuffer<int64_t> low(std::vector<int64_t>{1, 5, 0, 2}), high(std::vector<int64_t>{6, 1});
  DeviceBuffer<int> err(std::vector<int>{0});
  check_range({good.data(), 5, 1, 5, err.data(), IndexError::lstm_length});
  CHECK(err.to_host()[0] == 0);  // the bounds themselves are allowed
  check_range({low.data(), 4, 1, 5, err.data(), IndexError::lstm_length});
  CHECK(err.to_host()[0] == static_cast<int>(IndexError::lstm_length));
  DeviceBuffer<int> err2(std::vector<int>{0});
  check_range({high.data(), 2, 0, 5, err2.data(), IndexError::cross_entropy_target});
  CHECK(std::string(index_error_name(err2.to_host()[0])) ==
        "cross_entropy: a target class outside [0, C)");
  // The first error wins: a later check with another code leaves it.
  check_range({low.data(), 4, 1, 5, err2.data(), IndexError::lstm_length});
  CHECK(err2.to_host()[0] == static_cast<int>(IndexError::cross_entropy_target));
  CHECK_THROWS_WITH(check_range({good.data(), 5, 1, 5, nullptr, IndexError::lstm_length}),
                    "check_range: error is null");
  CHECK_THROWS_WITH(check_range({good.data(), 5, 1, 5, err.data(), IndexError::none}),
                    "check_range: code must name the check (got none)");
}
