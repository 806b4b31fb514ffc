// Load throughput of the data layer (Google Benchmark): .npy parsing in memory, a whole
// genre sub-set from .npy files (1 and 2 threads) and from the HDF5 cache, and batching.
// Counters: MB/s of source bytes read (clip files as stored, or cache values) and clips/s.
//
// Data: $MELGRAD_BENCH_DATA when set (e.g. a `make-dataset --size full` folder or the real
// data set), else a small synthetic set generated into a temp folder. Files are read
// through the page cache after the first iteration, so "direct" measures parsing and
// conversion more than the disk; the first, cold load of a real set is reported by the
// loader itself (LoadReport) and printed by the training commands.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/batcher.h"
#include "datasets/npy.h"
#include "datasets/patreco3.h"
#include "datasets/splits.h"
#include "datasets/synth_dataset.h"

namespace fs = std::filesystem;
using namespace melgrad::data;

namespace {

struct BenchData {
  std::string root, dir, cache;
  BenchData() {
    char tmpl[] = "/tmp/melgrad-bench-data-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    root = tmpl;
    cache = root + "/cache";
    if (const char* d = std::getenv("MELGRAD_BENCH_DATA"); d && *d) {
      dir = d;
    } else {
      dir = root + "/small";
      SynthOptions o;
      o.progress = Progress::never;
      make_dataset(dir, o);
    }
  }
  ~BenchData() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

BenchData& bench_data() {
  static BenchData d;
  return d;
}

void report(benchmark::State& state, const SubsetData& d) {
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(d.report.source_bytes) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["clips/s"] = benchmark::Counter(static_cast<double>(d.clips.size()),
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["clips"] = static_cast<double>(d.clips.size());
}

void BM_NpyParseFullClip(benchmark::State& state) {
  // One real-size clip, float64 (140, 1293): the parser and float64 -> float32 conversion.
  std::vector<double> values(140 * 1293);
  for (size_t i = 0; i < values.size(); ++i) values[i] = -static_cast<double>(i % 80);
  const auto bytes = encode_npy({140, 1293}, values.data());
  for (auto _ : state) {
    NpyArray a = parse_npy(bytes.data(), bytes.size(), "bench.npy");
    benchmark::DoNotOptimize(a.data.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_NpyParseFullClip)->Unit(benchmark::kMicrosecond);

void BM_LoadGenreFromNpy(benchmark::State& state) {
  LoadOptions o;
  o.use_cache = false;
  o.progress = Progress::never;
  o.threads = static_cast<int>(state.range(0));
  SubsetData d;
  for (auto _ : state) {
    d = load_subset(bench_data().dir, Subset::genre, o);
    benchmark::DoNotOptimize(d.clips.data());
  }
  report(state, d);
}
BENCHMARK(BM_LoadGenreFromNpy)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LoadGenreFromH5Cache(benchmark::State& state) {
  LoadOptions o;
  o.cache_dir = bench_data().cache;
  o.progress = Progress::never;
  load_subset(bench_data().dir, Subset::genre, o);  // writes the cache
  SubsetData d;
  for (auto _ : state) {
    d = load_subset(bench_data().dir, Subset::genre, o);
    if (!d.report.from_cache) state.SkipWithError("the cache was not used");
  }
  report(state, d);
}
BENCHMARK(BM_LoadGenreFromH5Cache)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MakeBatch32(benchmark::State& state) {
  LoadOptions o;
  o.cache_dir = bench_data().cache;
  o.progress = Progress::never;
  o.features = Features::mel;
  const SubsetData d = load_subset(bench_data().dir, Subset::genre, o);
  const Splits s = make_splits(d);
  BatcherOptions bo;
  Batcher b(d, s.train, bo);
  Batch batch;
  int64_t epoch = 0;
  for (auto _ : state) {
    if (!b.next(batch)) {
      b.start_epoch(++epoch);
      b.next(batch);
    }
    benchmark::DoNotOptimize(batch.x.data());
  }
  state.counters["clips/s"] =
      benchmark::Counter(32.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MakeBatch32)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
