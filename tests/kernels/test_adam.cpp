// Fused multi-tensor Adam / AdamW (kernels/adam.cu) against its CPU reference (the
// engine's loop), over several steps and tensor lists that span chunk boundaries, several
// launches (more tensors or chunks than one table holds) and empty tensors; a hand-worked
// first step; validation. Tolerance: the kernel and the reference do the same float32
// operations; the emulator build matches bit for bit, a GPU may contract a * b + c into
// fused multiply-adds, a few ulp per step: atol 1e-7 + rtol 1e-6 after three steps.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/adam.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

// Host copies of a list of tensors with their state, and device copies of the same.
struct HostTensor {
  std::vector<float> p, g, m, v;
};

std::vector<HostTensor> make_tensors(const std::vector<int64_t>& sizes, uint64_t seed) {
  std::vector<HostTensor> ts;
  for (int64_t n : sizes) {
    const auto un = static_cast<std::size_t>(n);
    ts.push_back({random_floats(un, seed, -1, 1), random_floats(un, seed + 1, -0.1f, 0.1f),
                  random_floats(un, seed + 2, -0.01f, 0.01f),
                  random_floats(un, seed + 3, 0, 1e-3f)});
    seed += 4;
  }
  return ts;
}

struct DeviceTensor {
  DeviceBuffer<float> p, g, m, v;
};

// Runs `steps` steps (t = 1 .. steps) on the device and on the host and compares.
void check_steps(const std::vector<int64_t>& sizes, AdamParams opt, int steps) {
  std::vector<HostTensor> host = make_tensors(sizes, 17);
  std::vector<AdamTensor> href;
  for (HostTensor& t : host) {
    href.push_back(
        {t.p.data(), t.g.data(), t.m.data(), t.v.data(), static_cast<int64_t>(t.p.size())});
  }
  const std::vector<HostTensor> initial = host;
  for (int t = 1; t <= steps; ++t) {
    AdamParams r = opt;
    r.tensors = href.data();
    r.count = static_cast<int64_t>(href.size());
    r.step = t;
    adam_step_reference(r);
  }
  const auto run = [&] {
    std::vector<DeviceTensor> dev;
    std::vector<AdamTensor> list;
    for (const HostTensor& t : initial) {
      dev.push_back({DeviceBuffer<float>(t.p), DeviceBuffer<float>(t.g), DeviceBuffer<float>(t.m),
                     DeviceBuffer<float>(t.v)});
    }
    for (DeviceTensor& d : dev) {
      list.push_back(
          {d.p.data(), d.g.data(), d.m.data(), d.v.data(), static_cast<int64_t>(d.p.size())});
    }
    for (int t = 1; t <= steps; ++t) {
      AdamParams q = opt;
      q.tensors = list.data();
      q.count = static_cast<int64_t>(list.size());
      q.step = t;
      adam_step(q);
    }
    for (std::size_t i = 0; i < dev.size(); ++i) {
      CAPTURE(i);
      check_close(dev[i].p.to_host(), host[i].p, 1e-7, 1e-6);
      check_close(dev[i].m.to_host(), host[i].m, 1e-7, 1e-6);
      check_close(dev[i].v.to_host(), host[i].v, 1e-7, 1e-6);
    }
  };
  for_each_schedule(run);
}

}  // namespace

TEST_CASE("adam_step matches the reference: Adam with L2 decay and AdamW, chunk edges") {
  const std::vector<int64_t> sizes = {1, 5, 0, kAdamChunk, kAdamChunk + 1, 3 * kAdamChunk - 7, 300};
  for (bool decoupled : {false, true}) {
    CAPTURE(decoupled);
    AdamParams opt;
    opt.lr = 1e-2;
    opt.weight_decay = decoupled ? 1e-2 : 1e-3;
    opt.decoupled_weight_decay = decoupled;
    check_steps(sizes, opt, 3);
  }
}

TEST_CASE("adam_step: more tensors and more chunks than one launch table holds") {
  std::vector<int64_t> many(kAdamMaxTensorsPerLaunch + 14, 33);  // 50 small tensors
  many[20] = 2 * kAdamChunk + 3;
  AdamParams opt;
  opt.lr = 3e-3;
  check_steps(many, opt, 2);
  // 330 chunks of 64 in one tensor: two launches, the second starting inside the tensor.
  opt.chunk = 64;
  check_steps({(kAdamMaxBlocksPerLaunch + 10) * 64 - 1, 7}, opt, 2);
}

TEST_CASE("adam_step: the first step moves each parameter by lr (m_hat / sqrt(v_hat) = sign g)") {
  std::vector<float> p = {1.0f, -2.0f}, g = {0.5f, -3.0f}, m(2, 0.0f), v(2, 0.0f);
  DeviceBuffer<float> dp(p), dg(g), dm(m), dv(v);
  const AdamTensor t{dp.data(), dg.data(), dm.data(), dv.data(), 2};
  AdamParams opt;
  opt.tensors = &t;
  opt.count = 1;
  opt.lr = 0.1;
  opt.eps = 0.0;
  adam_step(opt);
  const std::vector<float> got = dp.to_host();
  CHECK(got[0] == doctest::Approx(0.9).epsilon(1e-6));
  CHECK(got[1] == doctest::Approx(-1.9).epsilon(1e-6));
  CHECK(dm.to_host()[0] == doctest::Approx(0.05).epsilon(1e-6));   // (1 - 0.9) * 0.5
  CHECK(dv.to_host()[1] == doctest::Approx(0.009).epsilon(1e-5));  // (1 - 0.999) * 9
}

TEST_CASE("adam_step validates its parameters") {
  DeviceBuffer<float> b(4);
  AdamTensor t{b.data(), b.data(), b.data(), nullptr, 4};
  AdamParams opt;
  opt.tensors = &t;
  opt.count = 1;
  CHECK_THROWS_WITH_AS(adam_step(opt), "adam_step: tensors[0].exp_avg_sq is null",
                       std::invalid_argument);
  t.exp_avg_sq = b.data();
  opt.beta2 = 1.0;
  CHECK_THROWS_WITH_AS(adam_step(opt),
                       "adam_step: betas must be in [0, 1) (got 0.900000, 1.000000)",
                       std::invalid_argument);
  opt.beta2 = 0.999;
  opt.step = 0;
  CHECK_THROWS_WITH_AS(adam_step(opt), "adam_step: step must be >= 1 (got 0)",
                       std::invalid_argument);
  opt.step = 1;
  opt.count = 0;
  adam_step(opt);  // nothing to update, no launch
}

#if MELGRAD_KERNELS_EMU
// The tensors' pointers travel to the kernel inside the AdamTable struct, where the
// emulator's launch check does not look; on a GPU a host pointer there faults.
TEST_CASE("adam_step refuses a host pointer that would travel in its AdamTable") {
  DeviceBuffer<float> b(4);
  std::vector<float> host(4, 0.0f);
  AdamTensor ts[2] = {{b.data(), b.data(), b.data(), b.data(), 4},
                      {b.data(), b.data(), host.data(), b.data(), 4}};
  AdamParams opt;
  opt.tensors = ts;  // the list itself is host memory, as documented
  opt.count = 2;
  CHECK_THROWS_WITH_AS(adam_step(opt), doctest::Contains("adam_step: tensors[1].exp_avg (0x"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(adam_step(opt), doctest::Contains(") is not device memory"),
                       std::invalid_argument);
  ts[1].exp_avg = b.data();
  adam_step(opt);
}
#endif
