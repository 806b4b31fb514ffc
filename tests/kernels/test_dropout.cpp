// Dropout (kernels/dropout.cu) and its Philox generator (common/random.h):
//  - the generator against the Random123 known-answer vectors of Philox4x32-10;
//  - the kernel's mask, y and dx bit for bit against the references, which draw element i
//    from lane i % 4 of counter i / 4 exactly as engine/ops/dropout.cpp does (the engine
//    includes the same header), with offsets that start and end inside a Philox block;
//  - the drop rate within 4.5 standard deviations of p; validation messages.
// Everything is compared exactly: the mask values are the same float operations.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "common/random.h"
#include "kernels/dropout.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad;
using namespace melgrad::kernels;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

TEST_CASE("philox4x32_10 reproduces the Random123 known-answer vectors") {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const PhiloxBlock r = philox4x32_10(k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3], k.key[0], k.key[1]);
    for (int lane = 0; lane < 4; ++lane) CHECK(r[lane] == k.out[lane]);
  }
  // The dropout stream's 64-bit counter and seed split into the low/high words.
  const PhiloxBlock a = philox4x32_10(uint64_t{0x0000000700000005}, uint64_t{0x0000000b00000003});
  const PhiloxBlock b = philox4x32_10(5u, 7u, 0u, 0u, 3u, 11u);
  for (int lane = 0; lane < 4; ++lane) CHECK(a[lane] == b[lane]);
  CHECK(philox_to_unit(0xffffffffu) == 1.0f - 0x1.0p-24f);
  CHECK(philox_to_unit(0xffu) == 0.0f);
}

TEST_CASE("dropout_forward: mask and y equal the references bit for bit, any offset") {
  struct Case {
    int64_t n;
    uint64_t offset;
    double p;
  };
  for (const Case c : {Case{1, 0, 0.5}, Case{7, 0, 0.3}, Case{1000, 0, 0.2}, Case{999, 3, 0.5},
                       Case{5, 6, 0.9}, Case{4097, 1, 0.1}, Case{64, 0, 0.0}}) {
    CAPTURE(c.n);
    CAPTURE(c.offset);
    CAPTURE(c.p);
    const auto x = random_floats(static_cast<std::size_t>(c.n), 11, -2, 2);
    std::vector<float> mask_ref(x.size()), y_ref(x.size());
    dropout_forward_reference({x.data(), y_ref.data(), mask_ref.data(), c.n, c.p, 1234, c.offset});
    for_each_schedule([&] {
      DeviceBuffer<float> dx(x), dy(x.size()), dm(x.size());
      dropout_forward({dx.data(), dy.data(), dm.data(), c.n, c.p, 1234, c.offset});
      CHECK(dm.to_host() == mask_ref);
      CHECK(dy.to_host() == y_ref);
    });
  }
}

TEST_CASE("dropout mask: element i is lane i % 4 of counter i / 4, the engine's layout") {
  // Written out independently of the reference: the CPU engine's loop (dropout.cpp).
  const int64_t n = 23;
  const double p = 0.4;
  const uint64_t seed = 0x0123456789abcdefull;
  std::vector<float> expected(n);
  const float keep = static_cast<float>(1.0 / (1.0 - p));
  for (int64_t i = 0; i < n; i += 4) {
    const PhiloxBlock r = philox4x32_10(static_cast<uint64_t>(i) / 4, seed);
    for (int64_t j = 0; j < 4 && i + j < n; ++j) {
      expected[i + j] =
          philox_to_unit(r[static_cast<int>(j)]) >= static_cast<float>(p) ? keep : 0.0f;
    }
  }
  DeviceBuffer<float> dm(n);
  dropout_forward({nullptr, nullptr, dm.data(), n, p, seed, 0});
  CHECK(dm.to_host() == expected);
  // A sub-range drawn with an offset is the same slice of the stream.
  DeviceBuffer<float> part(n - 9);
  dropout_forward({nullptr, nullptr, part.data(), n - 9, p, seed, 9});
  CHECK(part.to_host() == std::vector<float>(expected.begin() + 9, expected.end()));
}

TEST_CASE("dropout: drop rate close to p; in place; backward regenerates the mask") {
  const int64_t n = 20000;
  const double p = 0.3;
  std::vector<float> ones(n, 1.0f);
  DeviceBuffer<float> d(ones);
  dropout_forward({d.data(), d.data(), nullptr, n, p, 77, 0});  // in place
  const std::vector<float> y = d.to_host();
  int64_t dropped = 0, wrong_scale = 0;
  for (float v : y) {
    if (v == 0.0f)
      ++dropped;
    else if (v != static_cast<float>(1.0 / 0.7))
      ++wrong_scale;
  }
  CHECK(wrong_scale == 0);
  const double rate = static_cast<double>(dropped) / n;
  CHECK(std::abs(rate - p) < 4.5 * std::sqrt(p * (1 - p) / n));  // sigma = 0.0032

  const auto dy = random_floats(static_cast<std::size_t>(n), 5, -1, 1);
  std::vector<float> dx_ref(dy.size());
  dropout_backward_reference({dy.data(), dx_ref.data(), n, p, 77, 0});
  for_each_schedule([&] {
    DeviceBuffer<float> ddy(dy), ddx(dy.size());
    dropout_backward({ddy.data(), ddx.data(), n, p, 77, 0});
    CHECK(ddx.to_host() == dx_ref);
  });
  for (std::size_t i = 0; i < dy.size(); ++i) {  // dx is zero exactly where y was dropped
    if ((y[i] == 0.0f) != (dx_ref[i] == 0.0f)) {
      FAIL_CHECK("dx and the forward mask disagree at " << i);
      break;
    }
  }
}

TEST_CASE("dropout launchers validate their parameters") {
  DeviceBuffer<float> a(8);
  CHECK_THROWS_WITH_AS(dropout_forward({a.data(), a.data(), nullptr, 8, 1.0, 1, 0}),
                       "dropout_forward: p must be in [0, 1) (got 1.000000)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(dropout_forward({nullptr, nullptr, nullptr, 8, 0.5, 1, 0}),
                       "dropout_forward: neither x nor mask is given", std::invalid_argument);
  CHECK_THROWS_WITH_AS(dropout_forward({a.data(), nullptr, nullptr, 8, 0.5, 1, 0}),
                       "dropout_forward: y (required with x) is null", std::invalid_argument);
  CHECK_THROWS_WITH_AS(dropout_backward({a.data(), a.data(), -2, 0.5, 1, 0}),
                       "dropout_backward: n must be >= 0 (got -2)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(dropout_backward({a.data(), a.data(), 8, 0.5, 1, ~uint64_t{0}}),
                       "dropout_backward: offset + n overflows 64 bits", std::invalid_argument);
}

TEST_CASE("dropout with the seed in device memory: the seed read at run time, not the value") {
  const int64_t n = 1001;
  const auto x = random_floats(static_cast<std::size_t>(n), 12, -2, 2);
  std::vector<float> y_ref(x.size()), dx_ref(x.size());
  dropout_forward_reference({x.data(), y_ref.data(), nullptr, n, 0.3, 777, 5});
  dropout_backward_reference({x.data(), dx_ref.data(), n, 0.3, 777, 5});
  for_each_schedule([&] {
    DeviceBuffer<float> dx(x), dy(x.size()), dgrad(x.size());
    DeviceBuffer<uint64_t> seed(std::vector<uint64_t>{777});
    // The value 1 is ignored: the kernel reads 777 from the device word.
    DropoutParams fwd{dx.data(), dy.data(), nullptr, n, 0.3, 1, 5};
    fwd.seed_on_device = seed.data();
    dropout_forward(fwd);
    CHECK(dy.to_host() == y_ref);
    DropoutBackwardParams bwd{dx.data(), dgrad.data(), n, 0.3, 1, 5};
    bwd.seed_on_device = seed.data();
    dropout_backward(bwd);
    CHECK(dgrad.to_host() == dx_ref);
    // A new word value gives another mask (what a graph replay relies on).
    DeviceBuffer<uint64_t> other(std::vector<uint64_t>{778});
    fwd.seed_on_device = other.data();
    dropout_forward(fwd);
    CHECK(dy.to_host() != y_ref);
  });
}
