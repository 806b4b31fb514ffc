// Helpers for the kernel tests, which compile unchanged against the emulator
// (melgrad_kernels_emu: test_kernels) and against the GPU build (melgrad_kernels_cuda:
// test_kernels_cuda): seeded inputs, a tolerance check that names the first mismatch, and
// a loop over emulator schedules (a single native run on the GPU).
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/runtime.h"
#if MELGRAD_KERNELS_EMU
#include "kernels/emu/emu.h"
#endif

namespace melgrad::kernels::testing {

// Runs f under the in-order, reversed and two seeded random emulator schedules, or only under
// MELGRAD_EMU_SCHEDULE when it is set (CTest's test_kernels_schedule_concurrent); once on a GPU.
template <class F>
void for_each_schedule(F&& f) {
#if MELGRAD_KERNELS_EMU
  std::vector<emu::Schedule> schedules{emu::Schedule::in_order(), emu::Schedule::reversed(),
                                       emu::Schedule::random(1), emu::Schedule::random(2)};
  if (const char* env = std::getenv("MELGRAD_EMU_SCHEDULE"); env != nullptr && *env != '\0') {
    schedules = {emu::Schedule::parse(env)};
  }
  for (const emu::Schedule& s : schedules) {
    emu::ScopedSchedule scope(s);
    const std::string name = "schedule " + s.str();
    INFO(name);
    f();
  }
#else
  f();
#endif
}

inline std::vector<float> random_floats(std::size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// |got - ref| <= atol + rtol * |ref| elementwise; NaN must meet NaN, inf the same inf.
inline void check_close(const std::vector<float>& got, const std::vector<float>& ref, double atol,
                        double rtol) {
  REQUIRE(got.size() == ref.size());
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], r = ref[i];
    const bool ok = std::isnan(r)   ? std::isnan(g)
                    : std::isinf(r) ? g == r
                                    : std::abs(g - r) <= atol + rtol * std::abs(r);
    if (!ok && bad++ == 0) first = i;
  }
  CHECK_MESSAGE(bad == 0, bad << " of " << got.size() << " values differ; first at index " << first
                              << ": got " << (got.empty() ? 0.0f : got[first]) << ", expected "
                              << (ref.empty() ? 0.0f : ref[first]) << " (atol " << atol << ", rtol "
                              << rtol << ")");
}

}  // namespace melgrad::kernels::testing
