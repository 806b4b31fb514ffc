// Audio front end speed (Google Benchmark): per Debian track (planetblupi-music-ogg, ~10 min,
// 44.1 kHz stereo OGG), decode + mix + resample to 22 050 Hz (audio::load), the log-mel
// (melspectrogram + power_to_db), chroma_cqt, the beat part (percussive + onset + tempo +
// beat_track), and load + extract_features with beats on 1 and 2 threads (`load_extract/
// NAME/threads:N`; CPU time is the process's, all threads). Counters: x_realtime = seconds of audio
// per second of work; peak_rss_MB = the process's peak resident memory so far (VmHWM). Compare with
// bench/peers/librosa_extract.py on the same tracks (docs/AUDIO.md). Tracks: $MELGRAD_BENCH_TRACKS
// (comma-separated paths), else music004 ... music009.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/audio/beat.h"
#include "datasets/audio/chroma.h"
#include "datasets/audio/decode.h"
#include "datasets/audio/features.h"
#include "datasets/audio/mel.h"

namespace {

using namespace melgrad::audio;

std::vector<std::string> tracks() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("MELGRAD_BENCH_TRACKS"); env && *env) {
    std::stringstream s(env);
    for (std::string p; std::getline(s, p, ',');) out.push_back(p);
    return out;
  }
  for (int i = 4; i <= 9; ++i) {
    const std::string p = "/usr/share/planetblupi/music/music00" + std::to_string(i) + ".ogg";
    if (std::filesystem::exists(p)) out.push_back(p);
  }
  return out;
}

double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

const Signal& cached_signal(const std::string& path) {
  static std::map<std::string, Signal> cache;
  auto it = cache.find(path);
  if (it == cache.end()) it = cache.emplace(path, load(path)).first;
  return it->second;
}

void report(benchmark::State& state, double audio_seconds) {
  state.counters["x_realtime"] =
      benchmark::Counter(audio_seconds * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["peak_rss_MB"] = peak_rss_mb();
}

void BM_Load(benchmark::State& state, const std::string& path) {
  double seconds = 0;
  for (auto _ : state) {
    Signal s = load(path);
    seconds = double(s.samples.size()) / s.sample_rate;
    benchmark::DoNotOptimize(s.samples.data());
  }
  report(state, seconds);
}

void BM_LogMel(benchmark::State& state, const std::string& path) {
  const Signal& s = cached_signal(path);
  for (auto _ : state) {
    MelSpectrogram m = melspectrogram(s.samples, s.sample_rate);
    power_to_db(m.values);
    benchmark::DoNotOptimize(m.values.data());
  }
  report(state, double(s.samples.size()) / s.sample_rate);
}

void BM_Chroma(benchmark::State& state, const std::string& path) {
  const Signal& s = cached_signal(path);
  for (auto _ : state) {
    std::vector<float> c = chroma_cqt(s.samples, s.sample_rate);
    benchmark::DoNotOptimize(c.data());
  }
  report(state, double(s.samples.size()) / s.sample_rate);
}

void BM_Beat(benchmark::State& state, const std::string& path) {
  const Signal& s = cached_signal(path);
  for (auto _ : state) {
    BeatResult b = beat_track_percussive(s.samples, s.sample_rate);
    benchmark::DoNotOptimize(b.beat_frames.data());
  }
  report(state, double(s.samples.size()) / s.sample_rate);
}

void BM_LoadAndExtract(benchmark::State& state, const std::string& path) {
  double seconds = 0;
  for (auto _ : state) {
    Signal s = load(path);
    seconds = double(s.samples.size()) / s.sample_rate;
    ClipFeatures f = extract_features(s, {.beat = true, .threads = int(state.range(0))});
    benchmark::DoNotOptimize(f.full.values.data());
  }
  state.SetLabel("mel+chroma+beat");
  report(state, seconds);
}

const bool registered = [] {
  for (const std::string& path : tracks()) {
    const std::string name = std::filesystem::path(path).stem().string();
    benchmark::RegisterBenchmark(("load/" + name).c_str(), BM_Load, path)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("logmel/" + name).c_str(), BM_LogMel, path)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("chroma/" + name).c_str(), BM_Chroma, path)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("beat/" + name).c_str(), BM_Beat, path)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("load_extract/" + name).c_str(), BM_LoadAndExtract, path)
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->UseRealTime()
        ->MeasureProcessCPUTime();
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
