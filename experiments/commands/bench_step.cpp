// `melgrad bench-step`: times one full training step — zero_grad, forward, cross-entropy,
// backward, Adam step — at batch 32 in float32 on the CPU or (--device cuda) the GPU, for
// the models that bench/peers/torch_step.py (CPU) and torch_step_cuda.py (GPU) time in
// PyTorch (same shapes, same optimiser settings):
//
//   cnn-beat       CnnNet 1-4-16-64-256, pool 2, x [32, 1, 40, 128]   -> FC 4096-128-64-10
//   cnn-full       CnnNet 1-4-16-64-256, pool 2, x [32, 1, 1293, 128] -> FC 163840-128-64-10
//   cnn-full-wide  CnnNet 1-16-64-256-512, pool 3, x [32, 1, 1293, 128] -> FC 7680-128-64-10
//   lstm-beat      LstmNet 2 x 100 bidirectional, dropout 0.2, x [32, 40, 128], lengths
//                  uniform in [ceil(0.9 T), T], zero padding -> readout -> FC 200-10
//   lstm-full      the same with T = 1293
//
// Every model in train() mode (dropout active), Adam lr 1e-4, weight decay 1e-5, targets
// random in 0..9. Prints ms per step (the mean over the timed steps, with min and median);
// --json prints exactly one line {"model": NAME, "ms_per_step": X, ...}. On cuda a step is
// the trainer's (experiments/graph_step.h): the batch uploaded from host memory, forward +
// loss + backward (from the second step on, with --cuda-graphs on, a replayed CUDA graph),
// Adam, and a synchronisation, so it measures all the work the step queued; the same
// initial weights as on the CPU.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/ops/loss.h"
#include "engine/optim/optim.h"
#include "experiments/cli.h"
#include "experiments/experiment.h"
#include "experiments/experiment_cli.h"
#include "experiments/graph_step.h"
#include "models/cnn.h"
#include "models/lstm.h"

namespace melgrad {
namespace {

constexpr int64_t kBatch = 32, kMels = 128, kClasses = 10;
constexpr double kLr = 1e-4, kWeightDecay = 1e-5;

const char* const kModels[] = {"cnn-beat", "cnn-full", "cnn-full-wide", "lstm-beat", "lstm-full"};

// A model with its fixed batch: step() runs one training step.
struct Bench {
  std::shared_ptr<models::Network> net;
  Tensor x, lengths, targets;  // host tensors
  std::unique_ptr<optim::Adam> adam;
  std::string description;
  // On a device: the trainer's step (experiments/graph_step.h): the batch uploaded, then
  // forward + loss + backward eagerly or as a replayed CUDA graph; Adam after it.
  std::unique_ptr<experiments::GraphedStep> graphed;
  Device device = Device::cpu();
  uint64_t steps_run = 0;

  double step() {
    const auto t0 = std::chrono::steady_clock::now();
    if (graphed) {
      graphed->run({x, lengths, targets, Tensor(), kBatch}, ++steps_run);
      adam->step();
      backend_for(device).synchronize();  // the queued work is part of the step
    } else {
      adam->zero_grad();
      Tensor loss = cross_entropy(net->forward(x, lengths), targets);
      loss.backward();
      adam->step();
    }
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
};

Bench make_bench(const std::string& name, uint64_t seed, Device device, bool cuda_graphs) {
  Generator gen(seed);
  Bench b;
  const bool beat = name == "cnn-beat" || name == "lstm-beat";
  const int64_t T = beat ? 40 : 1293;
  if (name.rfind("cnn-", 0) == 0) {
    models::CnnConfig c;
    c.channels = name == "cnn-full-wide" ? std::vector<int64_t>{1, 16, 64, 256, 512}
                                         : std::vector<int64_t>{1, 4, 16, 64, 256};
    c.pool = name == "cnn-full-wide" ? 3 : 2;
    c.frames = T;
    c.bands = kMels;
    c.outputs = kClasses;
    b.net = std::make_shared<models::CnnNet>(c, seed);
    // [N, T, F] is the memory layout of the image [N, 1, T, F] the CNN reads.
    b.x = Tensor::normal({kBatch, T, kMels}, 0, 1, gen);
    b.lengths = Tensor::from_vector(std::vector<int64_t>(kBatch, T), {kBatch});
  } else {
    models::LstmConfig c;
    c.input_size = kMels;
    c.outputs = kClasses;
    b.net = std::make_shared<models::LstmNet>(c, seed);
    const int64_t lo = (9 * T + 9) / 10;  // ceil(0.9 T)
    std::vector<int64_t> len(kBatch);
    for (int64_t& l : len)
      l = lo + static_cast<int64_t>(gen.below(static_cast<uint64_t>(T - lo + 1)));
    b.lengths = Tensor::from_vector(len, {kBatch});
    b.x = Tensor::normal({kBatch, T, kMels}, 0, 1, gen);
    float* px = b.x.data<float>();
    for (int64_t n = 0; n < kBatch; ++n)  // zero padding, as a batcher writes it
      std::fill(px + (n * T + len[n]) * kMels, px + (n + 1) * T * kMels, 0.0f);
  }
  std::vector<int64_t> targets(kBatch);
  for (int64_t& t : targets) t = static_cast<int64_t>(gen.below(kClasses));
  b.targets = Tensor::from_vector(targets, {kBatch});
  b.net->train();
  b.net->to(device);  // the CPU's initial weights, moved
  b.device = device;
  b.adam = std::make_unique<optim::Adam>(
      b.net->parameters(), optim::AdamOptions{.lr = kLr, .weight_decay = kWeightDecay});
  if (!device.is_cpu()) {
    std::vector<std::string> classes;
    for (int64_t c = 0; c < kClasses; ++c) classes.push_back("class" + std::to_string(c));
    b.graphed = std::make_unique<experiments::GraphedStep>(
        *b.net, experiments::classification_task(classes), b.net->parameters(), cuda_graphs);
  }
  b.description = b.net->describe();
  return b;
}

int run_bench_step(const cli::Args& args) {
  const std::string name = args.str("model");
  if (std::find(std::begin(kModels), std::end(kModels), name) == std::end(kModels))
    throw cli::UsageError("option --model: unknown model '" + name +
                          "' (expected cnn-beat, cnn-full, cnn-full-wide, lstm-beat or lstm-full)");
  const int64_t threads = args.integer("threads");
  if (threads < 1)
    throw cli::UsageError("option --threads expects >= 1, got " + args.str("threads"));
  const bool slow = name == "lstm-full" && args.str("device") == "cpu";  // minutes per step
  const int64_t warmup = args.has("warmup") ? args.integer("warmup") : (slow ? 1 : 2);
  const int64_t fixed_steps = args.has("steps") ? args.integer("steps") : 0;
  const double min_seconds = args.number("min-seconds");
  if (warmup < 0 || (args.has("steps") && fixed_steps < 1))
    throw cli::UsageError("--steps must be >= 1 and --warmup >= 0");
  const bool json = args.flag("json");
  omp_set_num_threads(static_cast<int>(threads));
  const std::string device_arg = args.str("device");
  if (device_arg != "cpu" && device_arg.rfind("cuda", 0) != 0)
    throw cli::UsageError("option --device expects cpu or cuda, got '" + device_arg + "'");
  const Device device = experiments::check_device(device_arg);
  // Where the step runs, for the output: "CPU" or the GPU's name ("kernel emulator").
  const std::string where = backend_for(device).device_name();

  const bool cuda_graphs = experiments::on_off(args, "cuda-graphs");
  Bench b = make_bench(name, static_cast<uint64_t>(args.integer("seed")), device, cuda_graphs);
  auto progress = [&](const char* fmt, auto... v) {
    if (!json) std::printf(fmt, v...), std::fflush(stdout);
  };
  progress("[%s] %s; %lld parameters, batch %lld, %lld threads, on %s\n", name.c_str(),
           b.description.c_str(), static_cast<long long>(b.net->parameter_count()),
           static_cast<long long>(kBatch), static_cast<long long>(threads), where.c_str());
  double last = 0;
  for (int64_t i = 0; i < warmup; ++i) {
    last = b.step();
    progress("[%s] warm-up %lld/%lld: %.1f ms\n", name.c_str(), static_cast<long long>(i + 1),
             static_cast<long long>(warmup), last);
  }
  int64_t steps = fixed_steps;
  if (steps == 0) {  // adaptive: >= 3 steps and >= min_seconds of timed work
    if (warmup == 0) last = b.step();
    steps = slow
                ? 1
                : std::max<int64_t>(
                      3, static_cast<int64_t>(std::ceil(min_seconds * 1e3 / std::max(last, 1e-3))));
  }
  std::vector<double> ms;
  for (int64_t i = 0; i < steps; ++i) ms.push_back(b.step());
  const bool replayed = b.graphed && b.graphed->replaying();
  if (b.graphed && !b.graphed->note().empty())
    progress("[%s] %s\n", name.c_str(), b.graphed->note().c_str());
  double mean = 0;
  for (double v : ms) mean += v;
  mean /= static_cast<double>(ms.size());
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  if (json) {
    std::printf(
        "{\"model\": \"%s\", \"ms_per_step\": %.3f, \"min_ms\": %.3f, \"median_ms\": %.3f, "
        "\"steps\": %lld, \"threads\": %lld, \"device\": \"%s\", \"device_name\": \"%s\", "
        "\"cuda_graphs\": %s}\n",
        name.c_str(), mean, sorted.front(), median, static_cast<long long>(n),
        static_cast<long long>(threads), device.is_cpu() ? "cpu" : "cuda", where.c_str(),
        replayed ? "true" : "false");
  } else {
    std::printf(
        "%-14s %12.1f ms/step  (mean of %lld steps; min %.1f, median %.1f; %lld threads, %s%s)\n",
        name.c_str(), mean, static_cast<long long>(n), sorted.front(), median,
        static_cast<long long>(threads), where.c_str(), replayed ? ", CUDA graph" : "");
  }
  return 0;
}

// Options: {name, help, default, is_flag, required}.
const cli::CommandRegistrar reg({
    .name = "bench-step",
    .summary = "time one training step (forward, backward, Adam) of a study model at batch 32",
    .options =
        {
            {"model", "cnn-beat, cnn-full, cnn-full-wide, lstm-beat or lstm-full", "", false, true},
            {"threads", "CPU threads (OpenMP)", "2", false, false},
            {"steps", "timed steps (default: adaptive, >= 3 and >= --min-seconds; lstm-full: 1)",
             "", false, false},
            {"warmup", "untimed steps first (default 2; lstm-full: 1)", "", false, false},
            {"min-seconds", "adaptive mode: at least this much timed work", "3", false, false},
            {"seed", "seed of the weights, inputs, targets and lengths", "0", false, false},
            {"device", "cpu | cuda (melgrad-emu: the kernel emulator, for checking, not timing)",
             "cpu", false, false},
            {"cuda-graphs",
             "on | off: on cuda, replay the step as a CUDA graph after 2 eager steps", "on", false,
             false},
            {"json",
             "print one JSON line {\"model\": NAME, \"ms_per_step\": X, ...} and nothing else", "",
             true, false},
        },
    .positional_help = "",
    .run = run_bench_step,
});

}  // namespace
}  // namespace melgrad
