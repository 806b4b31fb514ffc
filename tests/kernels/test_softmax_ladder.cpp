// The softmax ladder (kernels/ladder/softmax_ladder.h) against the CPU reference: every rung
// on rows shorter than a warp, longer than a block, not multiples of 4 (the float4 rung's
// scalar path), a row of huge logits (the max shift), a row with -inf entries (the online
// rung's rescaling must not make NaN), under the emulator's schedules for the rungs with
// barriers and shuffles. Tolerance: float32 expf and a float32 sum of up to 1000 terms
// against a double reference: atol 1e-6 on probabilities in [0, 1], rtol 1e-5.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/ladder/softmax_ladder.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

void check_rung(int rung, int64_t rows, int64_t cols, bool all_schedules) {
  INFO("rung v" << rung + 1 << " " << ladder_softmax_rungs()[rung].name << " rows=" << rows
                << " cols=" << cols);
  std::vector<float> x = random_floats(rows * cols, 7 + rows + cols, -5, 5);
  if (rows > 1) {
    for (int64_t j = 0; j < cols; ++j) x[cols + j] += 1000.0f;  // row 1: huge logits
  }
  if (rows > 2 && cols > 2) {
    x[2 * cols] = -INFINITY;  // row 2: -inf entries first and in the middle
    x[2 * cols + cols / 2] = -INFINITY;
  }
  std::vector<float> expected(x.size());
  ladder_softmax_reference({rows, cols, x.data(), expected.data()});
  auto run = [&] {
    DeviceBuffer<float> dx(x), dy(x.size());
    ladder_softmax(rung, {rows, cols, dx.data(), dy.data()});
    check_close(dy.to_host(), expected, 1e-6, 1e-5);
  };
  if (all_schedules)
    for_each_schedule(run);
  else
    run();
}

}  // namespace

TEST_CASE("softmax ladder: every rung matches the reference on short, long and ragged rows") {
  const int64_t shapes[][2] = {{1, 1}, {3, 6}, {7, 33}, {9, 128}, {5, 1000}, {130, 64}, {4, 257}};
  for (int rung = 0; rung < static_cast<int>(ladder_softmax_rungs().size()); ++rung) {
    for (const auto& s : shapes) check_rung(rung, s[0], s[1], false);
    check_rung(rung, 6, 96, true);
  }
}

TEST_CASE("softmax ladder: variants by name or number; errors name what is wrong") {
  CHECK(ladder_softmax_find("v3") == 2);
  CHECK(ladder_softmax_find("online") == 3);
  CHECK_THROWS_WITH_AS(ladder_softmax_find("v9"), doctest::Contains("v4 online"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ladder_softmax(0, {2, 0, nullptr, nullptr}), doctest::Contains("cols=0"),
                       std::invalid_argument);
}
