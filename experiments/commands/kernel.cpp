// `melgrad kernel NAME [--variant V] [--shape S] [--repeat R] [--counters]`: runs the
// variants of a teaching ladder on the device, checks each against its CPU reference
// (largest absolute error) and times it. Kernels:
//   gemm     the GEMM ladder (kernels/ladder/gemm_ladder.h), --shape MxNxK
//   softmax  the softmax ladder (kernels/ladder/softmax_ladder.h), --shape ROWSxCOLS
// --variant: v1.., a rung's name, or all (default). --repeat 0 checks without timing.
// Under `melgrad-emu` (or a build without nvcc) the device is the kernel emulator: the
// times are CPU wall time of the emulation, labelled so, and say nothing about a GPU;
// --counters (emulator only) adds one counted launch per variant and prints what explains
// a GPU's speed (kernels/emu/emu_counters.h). docs/KERNEL_LADDER.md reads the tables.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/cli.h"
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/ladder/softmax_ladder.h"
#include "kernels/runtime.h"
#if MELGRAD_KERNELS_EMU
#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"
#endif

using namespace melgrad;
using namespace melgrad::kernels;

namespace {

// "AxB" or "AxBxC" (count numbers, each >= minimum).
std::vector<int64_t> parse_dims(const std::string& text, std::size_t count, const char* example) {
  std::vector<int64_t> dims;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t x = text.find('x', at);
    const std::string part = text.substr(at, x == std::string::npos ? std::string::npos : x - at);
    std::size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (part.empty() || used != part.size() || v < 0) {
      dims.clear();
      break;
    }
    dims.push_back(v);
    if (x == std::string::npos) break;
    at = x + 1;
  }
  if (dims.size() != count ||
      std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 1; }))
    throw cli::UsageError(std::string("--shape: expected ") + example +
                          " with positive sizes, got '" + text + "'");
  return dims;
}

std::vector<float> uniform_values(int64_t count, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = dist(rng);
  return v;
}

double max_abs_error(const std::vector<float>& got, const std::vector<float>& expected) {
  double m = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(double(got[i]) - double(expected[i]));
    if (std::isnan(e)) return NAN;
    m = std::max(m, e);
  }
  return m;
}

// One rung on one shape, with device operands ready: launch() runs it; error() compares
// the device's result with the CPU reference.
struct RungRun {
  std::function<void()> launch;
  std::function<double()> error;
};

// A ladder as this command sees it.
struct Ladder {
  std::string title;                // printed first
  std::vector<std::string> labels;  // "v1 naive", ...
  std::vector<bool> available;      // false: not on this device (tf32 in the emulator)
  std::vector<bool> counted;        // routes its accesses through the counters
  std::function<RungRun(int rung)> prepare;
  std::function<double(int rung)> tolerance;  // on the largest absolute error
  double flops = 0;                           // per launch, for GFLOP/s (0: not shown)
  std::string work_column;                    // the counters table's last column
  std::function<double(uint64_t global_load_bytes, uint64_t moved)> work;
};

Ladder gemm_ladder(const std::string& shape) {
  const std::vector<int64_t> d = parse_dims(shape, 3, "MxNxK");
  const int64_t m = d[0], n = d[1], k = d[2];
  Ladder l;
  char title[160];
  std::snprintf(title, sizeof title, "kernel gemm  C[%lld, %lld] = A[%lld, %lld] @ B[%lld, %lld]",
                (long long)m, (long long)n, (long long)m, (long long)k, (long long)k, (long long)n);
  l.title = title;
  const bool emulated = std::string(backend_name()) == "emulator";
  for (std::size_t i = 0; i < ladder_gemm_rungs().size(); ++i) {
    const LadderRung& r = ladder_gemm_rungs()[i];
    l.labels.push_back("v" + std::to_string(i + 1) + " " + r.name);
    l.available.push_back(!(emulated && r.name == "tf32"));
    l.counted.push_back(i < 7);  // v8 tiled (kernels/gemm.cu) is not instrumented
  }
  l.prepare = [m, n, k](int rung) {
    auto a = std::make_shared<DeviceBuffer<float>>(uniform_values(m * k, 1, -1, 1));
    auto b = std::make_shared<DeviceBuffer<float>>(uniform_values(k * n, 2, -1, 1));
    auto c = std::make_shared<DeviceBuffer<float>>(static_cast<std::size_t>(m * n));
    const LadderGemmParams p{m, n, k, a->data(), b->data(), c->data()};
    return RungRun{[rung, p, a, b, c] { ladder_gemm(rung, p); },
                   [m, n, k, c] {
                     const auto ha = uniform_values(m * k, 1, -1, 1),
                                hb = uniform_values(k * n, 2, -1, 1);
                     std::vector<float> expected(static_cast<std::size_t>(m * n));
                     ladder_gemm_reference({m, n, k, ha.data(), hb.data(), expected.data()});
                     return max_abs_error(c->to_host(), expected);
                   }};
  };
  // As tests/kernels/test_gemm_ladder.cpp: float32 sums of k products of values in [-1, 1].
  l.tolerance = [k](int rung) {
    return (ladder_gemm_rungs()[rung].float32_exact ? 2e-6 : 2e-3) * static_cast<double>(k + 1);
  };
  l.flops = 2.0 * double(m) * double(n) * double(k);
  l.work_column = "FLOP/B";
  const double flops = l.flops;
  l.work = [flops](uint64_t, uint64_t moved) { return moved ? flops / double(moved) : 0.0; };
  return l;
}

Ladder softmax_ladder(const std::string& shape) {
  const std::vector<int64_t> d = parse_dims(shape, 2, "ROWSxCOLS");
  const int64_t rows = d[0], cols = d[1];
  Ladder l;
  l.title = "kernel softmax  y = softmax(x) over each row of x[" + std::to_string(rows) + ", " +
            std::to_string(cols) + "]";
  for (std::size_t i = 0; i < ladder_softmax_rungs().size(); ++i) {
    l.labels.push_back("v" + std::to_string(i + 1) + " " + ladder_softmax_rungs()[i].name);
    l.available.push_back(true);
    l.counted.push_back(i < 4);  // v5 production (kernels/softmax.cu) is not instrumented
  }
  l.prepare = [rows, cols](int rung) {
    auto x = std::make_shared<DeviceBuffer<float>>(uniform_values(rows * cols, 3, -5, 5));
    auto y = std::make_shared<DeviceBuffer<float>>(static_cast<std::size_t>(rows * cols));
    const LadderSoftmaxParams p{rows, cols, x->data(), y->data()};
    return RungRun{[rung, p, x, y] { ladder_softmax(rung, p); },
                   [rows, cols, y] {
                     const auto hx = uniform_values(rows * cols, 3, -5, 5);
                     std::vector<float> expected(hx.size());
                     ladder_softmax_reference({rows, cols, hx.data(), expected.data()});
                     return max_abs_error(y->to_host(), expected);
                   }};
  };
  l.tolerance = [](int) { return 1e-6; };  // as tests/kernels/test_softmax_ladder.cpp
  l.work_column = "x reads";
  const double x_bytes = 4.0 * double(rows) * double(cols);
  l.work = [x_bytes](uint64_t loaded, uint64_t) { return double(loaded) / x_bytes; };
  return l;
}

#if MELGRAD_KERNELS_EMU
// One counted launch, printed as a row of the counters table.
void print_counters(const Ladder& l, int rung) {
  namespace counters = emu::counters;
  using counters::Access;
  const RungRun run = l.prepare(rung);
  counters::Session session;
  run.launch();
  device_synchronize();
  const counters::Totals t = session.finish();
  auto at = [](const uint64_t(&v)[4], Access a) { return v[static_cast<int>(a)]; };
  const uint64_t lds = at(t.requests, Access::shared_load),
                 sts = at(t.requests, Access::shared_store);
  const uint64_t loaded = 32 * at(t.sectors, Access::global_load), moved = t.global_bytes_moved();
  std::printf("%-16s %9llu %6.1f %6.1f %10.1f %7.2f %9llu %6.2f %6.2f %8llu %6llu\n",
              l.labels[rung].c_str(), (unsigned long long)at(t.requests, Access::global_load),
              t.sectors_per_request(Access::global_load),
              t.sectors_per_request(Access::global_store), double(moved) / 1024.0,
              l.work(loaded, moved), (unsigned long long)lds,
              lds ? double(at(t.conflicts, Access::shared_load)) / double(lds) : 0.0,
              sts ? double(at(t.conflicts, Access::shared_store)) / double(sts) : 0.0,
              (unsigned long long)t.barriers, (unsigned long long)t.divergent_branches);
}
#endif

int run_ladder(const cli::Args& args, const Ladder& l, int (*find)(std::string_view)) {
  const int64_t repeat = args.integer("repeat");
  if (repeat < 0) throw cli::UsageError("--repeat must be 0 (check only, no timing) or more");
  const std::string variant = args.str("variant");
  const bool emulated = std::string(backend_name()) == "emulator";
  if (!device_available())
    throw std::runtime_error(
        "kernel: this build runs kernels on a GPU and none is usable here; "
        "melgrad-emu kernel ... runs them on the kernel emulator");
  std::vector<int> chosen;
  if (variant == "all") {
    for (int i = 0; i < static_cast<int>(l.labels.size()); ++i)
      if (l.available[i]) chosen.push_back(i);
  } else {
    try {
      chosen.push_back(find(variant));
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError(std::string("--variant: ") + e.what());
    }
  }
  std::printf("%s  on %s\n", l.title.c_str(), emulated ? "the kernel emulator (CPU)" : "the GPU");
  if (emulated && repeat > 0)
    std::printf(
        "times are EMULATOR wall time on the CPU: they count the emulator's work per "
        "thread and barrier, not GPU speed\n");
  std::printf("%-16s %12s %10s %12s %12s\n", "variant", "max |error|", "check",
              emulated ? "emu ms" : "GPU ms", emulated ? "emu GFLOP/s" : "GFLOP/s");
  bool all_ok = true;
  for (int rung : chosen) {
    const RungRun run = l.prepare(rung);
    run.launch();
    device_synchronize();
    const double error = run.error();
    const bool ok = error <= l.tolerance(rung);
    all_ok &= ok;
    std::vector<double> ms;
    for (int64_t r = 0; r < repeat; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      run.launch();
      device_synchronize();
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    char time[32] = "-", rate[32] = "-";
    if (!ms.empty()) {
      const double median = ms[ms.size() / 2];
      std::snprintf(time, sizeof time, "%.3f", median);
      if (l.flops > 0) std::snprintf(rate, sizeof rate, "%.3f", l.flops / (median * 1e6));
    }
    std::printf("%-16s %12.2e %10s %12s %12s\n", l.labels[rung].c_str(), error,
                ok ? "ok" : "FAILED", time, rate);
  }
  if (args.flag("counters")) {
#if MELGRAD_KERNELS_EMU
    std::printf(
        "\nemulator counters, one launch each (per warp request; see docs/KERNEL_LADDER.md)\n");
    std::printf("%-16s %9s %6s %6s %10s %7s %9s %6s %6s %8s %6s\n", "variant", "gld req", "sect/r",
                "st s/r", "global KiB", l.work_column.c_str(), "lds req", "ld cf", "st cf",
                "barriers", "diverg");
    for (int rung : chosen)
      if (l.counted[rung]) print_counters(l, rung);
#else
    throw cli::UsageError("--counters needs the emulator build: run melgrad-emu kernel ...");
#endif
  }
  if (!all_ok) {
    std::printf("a variant exceeded its tolerance (see docs/KERNEL_LADDER.md)\n");
    return 1;
  }
  return 0;
}

int run(const cli::Args& args) {
  if (args.positionals().size() != 1)
    throw cli::UsageError("name one kernel (available: gemm, softmax)");
  const std::string& name = args.positionals()[0];
  const bool shape_given = args.has("shape");
  if (name == "gemm")
    return run_ladder(args, gemm_ladder(shape_given ? args.str("shape") : "128x128x128"),
                      ladder_gemm_find);
  if (name == "softmax")
    return run_ladder(args, softmax_ladder(shape_given ? args.str("shape") : "256x1024"),
                      ladder_softmax_find);
  throw cli::UsageError("unknown kernel '" + name + "' (available: gemm, softmax)");
}

cli::CommandRegistrar reg(
    {.name = "kernel",
     .summary = "run a kernel ladder's variants against their CPU reference and time them",
     .options = {{"variant", "v1.., a rung name (e.g. naive), or all", "all"},
                 {"shape", "gemm: MxNxK (default 128x128x128); softmax: ROWSxCOLS (256x1024)", ""},
                 {"repeat", "timed launches (median reported); 0: check only", "3"},
                 {"counters",
                  "emulator only: count memory requests, bank conflicts, barriers and "
                  "divergent branches of one launch per variant",
                  "", true}},
     .positional_help = "gemm|softmax",
     .run = run});

}  // namespace
