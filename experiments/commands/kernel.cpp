// `melgrad kernel NAME [--variant V] [--shape MxNxK] [--repeat R] [--counters]`: runs one
// kernel variant of a teaching ladder on the device, checks it against its CPU reference
// (largest absolute error) and times it. Kernels: gemm (the GEMM ladder,
// kernels/ladder/gemm_ladder.h; variant v1..v9 or a name, or "all" for the whole ladder as
// a table). Under `melgrad-emu` (or a build without nvcc) the device is the kernel
// emulator: the times are CPU wall time of the emulation, labelled so, and say nothing
// about a GPU; --counters (emulator only) adds one counted launch per variant and prints
// what explains a GPU's speed (kernels/emu/emu_counters.h). docs/KERNEL_LADDER.md reads them.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "experiments/cli.h"
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/runtime.h"
#if MELGRAD_KERNELS_EMU
#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"
#endif

using namespace melgrad;
using namespace melgrad::kernels;

namespace {

struct GemmShape {
  int64_t m, n, k;
};

GemmShape parse_shape(const std::string& text) {
  GemmShape s{};
  char x1 = 0, x2 = 0;
  long long m = 0, n = 0, k = 0;
  int used = 0;
  if (std::sscanf(text.c_str(), "%lld%c%lld%c%lld%n", &m, &x1, &n, &x2, &k, &used) != 5 ||
      x1 != 'x' || x2 != 'x' || used != static_cast<int>(text.size()) || m <= 0 || n <= 0 || k < 0)
    throw cli::UsageError("--shape: expected MxNxK with positive M, N (e.g. 256x256x256), got '" +
                          text + "'");
  s.m = m, s.n = n, s.k = k;
  return s;
}

std::vector<float> uniform_values(int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = dist(rng);
  return v;
}

struct RungResult {
  double max_error;
  double tolerance;
  double median_ms;
};

// One rung: a warm-up launch checked against the reference, then `repeat` timed launches
// (each launch + synchronisation, host clock), median.
RungResult run_gemm_rung(int rung, const GemmShape& s, int64_t repeat) {
  const std::vector<float> a = uniform_values(s.m * s.k, 1), b = uniform_values(s.k * s.n, 2);
  std::vector<float> expected(static_cast<std::size_t>(s.m * s.n));
  ladder_gemm_reference({s.m, s.n, s.k, a.data(), b.data(), expected.data()});
  DeviceBuffer<float> da(a), db(b), dc(static_cast<std::size_t>(s.m * s.n));
  const LadderGemmParams p{s.m, s.n, s.k, da.data(), db.data(), dc.data()};
  ladder_gemm(rung, p);
  device_synchronize();
  const std::vector<float> got = dc.to_host();
  double max_error = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    max_error = std::max(max_error, std::fabs(double(got[i]) - double(expected[i])));
  if (std::isnan(max_error) || std::any_of(got.begin(), got.end(), [](float v) { return std::isnan(v); }))
    max_error = NAN;
  // As tests/kernels/test_gemm_ladder.cpp: float32 sums of k products in [-1, 1].
  const bool exact = ladder_gemm_rungs()[rung].float32_exact;
  const double tolerance = (exact ? 2e-6 : 2e-3) * static_cast<double>(s.k + 1);
  std::vector<double> ms;
  for (int64_t r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    ladder_gemm(rung, p);
    device_synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {max_error, tolerance, ms.empty() ? 0.0 : ms[ms.size() / 2]};
}

#if MELGRAD_KERNELS_EMU
// One launch of `rung` under the emulator's counters, printed as a table row.
void print_gemm_counters(int rung, const GemmShape& s) {
  namespace counters = emu::counters;
  using counters::Access;
  const std::vector<float> a = uniform_values(s.m * s.k, 1), b = uniform_values(s.k * s.n, 2);
  DeviceBuffer<float> da(a), db(b), dc(static_cast<std::size_t>(s.m * s.n));
  counters::Session session;
  ladder_gemm(rung, {s.m, s.n, s.k, da.data(), db.data(), dc.data()});
  device_synchronize();
  const counters::Totals t = session.finish();
  auto at = [](const uint64_t (&v)[4], Access a) { return v[static_cast<int>(a)]; };
  const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
  const uint64_t moved = t.global_bytes_moved();
  const uint64_t lds = at(t.requests, Access::shared_load), sts = at(t.requests, Access::shared_store);
  const std::string label = "v" + std::to_string(rung + 1) + " " + ladder_gemm_rungs()[rung].name;
  std::printf("%-16s %9llu %6.1f %6.1f %10.1f %7.2f %9llu %6.2f %6.2f %8llu %6llu\n", label.c_str(),
              (unsigned long long)at(t.requests, Access::global_load),
              t.sectors_per_request(Access::global_load), t.sectors_per_request(Access::global_store),
              double(moved) / 1024.0, moved ? flops / double(moved) : 0.0, (unsigned long long)lds,
              lds ? double(at(t.conflicts, Access::shared_load)) / double(lds) : 0.0,
              sts ? double(at(t.conflicts, Access::shared_store)) / double(sts) : 0.0,
              (unsigned long long)t.barriers, (unsigned long long)t.divergent_branches);
}
#endif

int run_gemm(const cli::Args& args) {
  const GemmShape s = parse_shape(args.str("shape"));
  const int64_t repeat = args.integer("repeat");
  if (repeat < 0) throw cli::UsageError("--repeat must be 0 (check only, no timing) or more");
  const std::string variant = args.str("variant");
  const bool emulated = std::string(backend_name()) == "emulator";
  const auto& rungs = ladder_gemm_rungs();
  std::vector<int> chosen;
  if (variant == "all") {
    for (int i = 0; i < static_cast<int>(rungs.size()); ++i)
      if (!(emulated && rungs[i].name == "tf32")) chosen.push_back(i);
  } else {
    try {
      chosen.push_back(ladder_gemm_find(variant));
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError(std::string("--variant: ") + e.what());
    }
  }
  std::printf("kernel gemm  C[%lld, %lld] = A[%lld, %lld] @ B[%lld, %lld]  on %s\n",
              (long long)s.m, (long long)s.n, (long long)s.m, (long long)s.k, (long long)s.k,
              (long long)s.n, emulated ? "the kernel emulator (CPU)" : "the GPU");
  if (emulated)
    std::printf("times are EMULATOR wall time on the CPU: they count the emulator's work per "
                "thread and barrier, not GPU speed\n");
  std::printf("%-16s %12s %10s %12s %12s\n", "variant", "max |error|", "check",
              emulated ? "emu ms" : "GPU ms", emulated ? "emu GFLOP/s" : "GFLOP/s");
  bool all_ok = true;
  for (int rung : chosen) {
    const RungResult r = run_gemm_rung(rung, s, repeat);
    const bool ok = r.max_error <= r.tolerance;
    all_ok &= ok;
    const double gflops = 2.0 * double(s.m) * double(s.n) * double(s.k) / (r.median_ms * 1e6);
    const std::string label = "v" + std::to_string(rung + 1) + " " + rungs[rung].name;
    if (repeat == 0)
      std::printf("%-16s %12.2e %10s %12s %12s\n", label.c_str(), r.max_error, ok ? "ok" : "FAILED",
                  "-", "-");
    else
      std::printf("%-16s %12.2e %10s %12.3f %12.3f\n", label.c_str(), r.max_error,
                  ok ? "ok" : "FAILED", r.median_ms, gflops);
  }
  if (args.flag("counters")) {
#if MELGRAD_KERNELS_EMU
    std::printf("\nemulator counters, one launch each (per warp request; see docs/KERNEL_LADDER.md)\n");
    std::printf("%-16s %9s %6s %6s %10s %7s %9s %6s %6s %8s %6s\n", "variant", "gld req", "sect/r",
                "st s/r", "global KiB", "FLOP/B", "lds req", "ld cf", "st cf", "barriers", "diverg");
    for (int rung : chosen)
      if (rungs[rung].name != "tiled") print_gemm_counters(rung, s);  // tiled: not instrumented
#else
    throw cli::UsageError("--counters needs the emulator build: run melgrad-emu kernel ...");
#endif
  }
  if (!all_ok) {
    std::printf("a variant exceeded the tolerance 2e-6 * (k + 1) (tf32: 2e-3 * (k + 1))\n");
    return 1;
  }
  return 0;
}

int run(const cli::Args& args) {
  if (args.positionals().size() != 1)
    throw cli::UsageError("name one kernel (available: gemm)");
  const std::string& name = args.positionals()[0];
  if (name == "gemm") return run_gemm(args);
  throw cli::UsageError("unknown kernel '" + name + "' (available: gemm)");
}

cli::CommandRegistrar reg(
    {.name = "kernel",
     .summary = "run one kernel variant against its CPU reference and time it",
     .options = {{"variant", "v1..v9, a rung name (naive, ..., tf32), or all", "all"},
                 {"shape", "MxNxK", "128x128x128"},
                 {"repeat", "timed launches (median reported); 0: check only", "3"},
                 {"counters", "emulator only: count memory requests, bank conflicts, barriers and "
                  "divergent branches of one launch per variant", "", true}},
     .positional_help = "gemm",
     .run = run});

}  // namespace
