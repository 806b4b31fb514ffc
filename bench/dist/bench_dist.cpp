// Data-parallel collectives measured (run under mpirun; docs/DISTRIBUTED.md has the figures):
//
//   1. all-reduce bandwidth: for message sizes 4 KiB .. 64 MiB, a plain blocking
//      MPI_Allreduce loop against the transport's all-reduce (Iallreduce polled against a
//      deadline, dist::Transport); algorithm bandwidth = bytes / time, bus bandwidth =
//      algbw * 2 (n - 1) / n (the bytes each rank sends and receives in a ring).
//   2. a model's gradients (the study's CNNs): one MPI_Allreduce per parameter tensor
//      against GradientBuckets (buckets of --bucket-mb) after the backward.
//   3. overlap: a training step at a per-rank batch of --batch clips, compute only (no
//      reduction), with the reduction after the backward (serial), and with buckets started
//      during the backward (the trainer's path); per bucket, when it started and when it was
//      seen complete against the backward's end (GradientBuckets::timings).
//   4. progress: an all-reduce started, then --probe-ms of computing without any MPI call,
//      then its wait: how much of the all-reduce ran during the computing. OpenMPI moves a
//      non-blocking collective only inside MPI calls; the transport's progress thread
//      (MELGRAD_MPI_PROGRESS=thread, the default; =calls turns it off) makes those calls.
//
//   mpirun -np 2 build/bench/dist/bench_dist [--model cnn-beat] [--batch 16] [--steps 5]
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "engine/generator.h"
#include "engine/ops/loss.h"
#include "engine/optim/optim.h"
#include "experiments/distributed.h"
#include "models/cnn.h"

using namespace melgrad;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// The slowest rank's time: a collective is as slow as its last rank.
static double slowest(dist::Transport& w, double ms) {
  Tensor all = w.all_gather(Tensor::full({1}, ms, DType::f64));
  double worst = 0;
  for (double v : all.to_vector()) worst = std::max(worst, v);
  return worst;
}

int main(int argc, char** argv) {
  std::string model = "cnn-beat";
  int64_t batch = 16, steps = 5;
  double bucket_mb = 25, probe_ms = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model")
      model = v;
    else if (k == "--batch")
      batch = std::stoll(v);
    else if (k == "--steps")
      steps = std::stoll(v);
    else if (k == "--bucket-mb")
      bucket_mb = std::stod(v);
    else if (k == "--probe-ms")
      probe_ms = std::stod(v);
    else {
      std::fprintf(stderr, "bench_dist: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (!dist::launched_by_mpi()) {
    std::fprintf(stderr, "bench_dist: run it under mpirun (mpirun -np 2 %s ...)\n", argv[0]);
    return 2;
  }
  dist::Transport& w = dist::world();
  const int n = w.size();
  const bool print = w.rank() == 0;
  const double ring = n > 1 ? 2.0 * (n - 1) / n : 1.0;
  if (print)
    std::printf(
        "ranks %d\n\n| size | MPI_Allreduce ms | GB/s algbw (busbw) | transport ms | GB/s algbw "
        "(busbw) |\n|---|---|---|---|---|\n",
        n);
  for (int64_t bytes = 4 << 10; bytes <= 64 << 20; bytes *= 4) {
    const int64_t count = bytes / 4;
    const int reps = bytes <= (1 << 20) ? 50 : 5;
    Tensor x = Tensor::ones({count});
    MPI_Allreduce(MPI_IN_PLACE, x.raw_data(), int(count), MPI_FLOAT, MPI_SUM,
                  MPI_COMM_WORLD);  // warm-up
    w.barrier();
    Clock::time_point t = Clock::now();
    for (int r = 0; r < reps; ++r)
      MPI_Allreduce(MPI_IN_PLACE, x.raw_data(), int(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    const double plain = slowest(w, ms_since(t) / reps);
    w.all_reduce(x);
    w.barrier();
    t = Clock::now();
    for (int r = 0; r < reps; ++r) w.all_reduce(x);
    const double ours = slowest(w, ms_since(t) / reps);
    if (print)
      std::printf("| %lld KiB | %.3f | %.2f (%.2f) | %.3f | %.2f (%.2f) |\n",
                  (long long)(bytes >> 10), plain, bytes / plain / 1e6, ring * bytes / plain / 1e6,
                  ours, bytes / ours / 1e6, ring * bytes / ours / 1e6);
  }

  models::CnnConfig c;
  const bool beat = model == "cnn-beat";
  c.channels = model == "cnn-full-wide" ? std::vector<int64_t>{1, 16, 64, 256, 512}
                                        : std::vector<int64_t>{1, 4, 16, 64, 256};
  c.pool = model == "cnn-full-wide" ? 3 : 2;
  c.frames = beat ? 40 : 1293;
  c.bands = 128;
  c.outputs = 10;
  models::CnnNet net(c, 42);
  net.train();
  Generator gen(7);
  const Tensor x = Tensor::normal({batch, c.frames, 128}, 0, 1, gen);
  const Tensor lengths =
      Tensor::from_vector(std::vector<int64_t>(size_t(batch), c.frames), {batch});
  std::vector<int64_t> labels(static_cast<size_t>(batch));
  for (int64_t& l : labels) l = int64_t(gen.below(10));
  const Tensor targets = Tensor::from_vector(labels, {batch});
  std::vector<Tensor> params = net.parameters();
  int64_t param_bytes = 0;
  for (const Tensor& p : params) param_bytes += 4 * p.numel();
  optim::Adam adam(params, {.lr = 1e-4, .weight_decay = 1e-5});
  experiments::GradientBuckets buckets(w, params, int64_t(bucket_mb * (1 << 20)));
  auto backward = [&] {
    for (Tensor& p : params) p.zero_grad();
    cross_entropy(net.forward(x, lengths), targets).backward();
  };
  backward();

  // 2. the gradients of one step: per tensor vs buckets.
  w.barrier();
  Clock::time_point t = Clock::now();
  for (int64_t s = 0; s < steps; ++s)
    for (Tensor& p : params) {
      Tensor g = p.grad();
      MPI_Allreduce(MPI_IN_PLACE, g.raw_data(), int(g.numel()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
  const double per_tensor = slowest(w, ms_since(t) / steps);
  w.barrier();
  t = Clock::now();
  for (int64_t s = 0; s < steps; ++s) {
    buckets.begin_step(1.0);
    buckets.finish();
  }
  const double bucketed = slowest(w, ms_since(t) / steps);
  if (print)
    std::printf(
        "\n%s: %zu parameter tensors, %.2f MB of gradients, %zu bucket(s) of %.1f MiB\n"
        "per-tensor MPI_Allreduce %.2f ms, bucketed %.2f ms a step\n",
        net.describe().c_str(), params.size(), param_bytes / 1e6, buckets.bucket_count(), bucket_mb,
        per_tensor, bucketed);

  // 3. the step: compute only, reduction after the backward, buckets during the backward.
  double compute = 0, serial = 0, overlapped = 0, backward_end = 0;
  std::vector<experiments::GradientBuckets::BucketTiming> timing(buckets.bucket_count());
  for (int64_t s = 0; s < steps; ++s) {
    w.barrier();
    t = Clock::now();
    backward();
    adam.step();
    compute += ms_since(t);
    w.barrier();
    t = Clock::now();
    buckets.begin_step(0.5);
    backward();
    buckets.finish();
    adam.step();
    serial += ms_since(t);
    w.barrier();
    t = Clock::now();
    buckets.begin_step(0.5);
    {
      LeafGradReadyGuard hook = buckets.guard();
      backward();
    }
    buckets.finish();
    adam.step();
    overlapped += ms_since(t);
    backward_end += buckets.backward_end_ms() / double(steps);
    for (size_t b = 0; b < timing.size(); ++b) {
      timing[b].started_ms += buckets.timings()[b].started_ms / double(steps);
      timing[b].done_ms += buckets.timings()[b].done_ms / double(steps);
    }
  }
  compute = slowest(w, compute / steps);
  serial = slowest(w, serial / steps);
  overlapped = slowest(w, overlapped / steps);
  if (print)
    std::printf(
        "step at %lld clips a rank: compute only %.1f ms, reduction after backward %.1f ms, "
        "buckets during backward %.1f ms\n",
        (long long)batch, compute, serial, overlapped);
  if (print) {
    std::printf(
        "rank 0, buckets during the backward (mean of %lld steps; ms since the step's "
        "start; the backward ends at %.1f ms):\n",
        (long long)steps, backward_end);
    for (size_t b = 0; b < timing.size(); ++b)
      std::printf("  bucket %zu: started %.1f, seen complete %.1f (%s)\n", b, timing[b].started_ms,
                  timing[b].done_ms,
                  timing[b].done_ms < backward_end ? "during the backward" : "after it");
  }

  // 4. progress without MPI calls: start, compute for probe_ms, wait.
  if (print)
    std::printf(
        "\nprogress (MELGRAD_MPI_PROGRESS=%s): all-reduce started, %.0f ms of computing "
        "without MPI calls, then its wait\n| size | all-reduce alone ms | wait after "
        "computing ms | ran during computing |\n|---|---|---|---|\n",
        std::getenv("MELGRAD_MPI_PROGRESS") ? std::getenv("MELGRAD_MPI_PROGRESS") : "thread",
        probe_ms);
  std::vector<float> work(1 << 16, 1.0f);
  for (int64_t bytes : {int64_t(1) << 20, int64_t(4) << 20, int64_t(16) << 20}) {
    Tensor x = Tensor::ones({bytes / 4});
    double alone = 0, after = 0;
    const int reps = 3;
    for (int r = 0; r < reps; ++r) {
      w.barrier();
      t = Clock::now();
      w.all_reduce(x);
      alone += ms_since(t) / reps;
      w.barrier();
      std::unique_ptr<dist::Pending> pending = w.all_reduce_start(x);
      t = Clock::now();
      while (ms_since(t) < probe_ms)  // a backward's worth of arithmetic, no MPI call
        for (float& v : work) v = v * 0.999f + 0.001f;
      t = Clock::now();
      pending->wait();
      after += ms_since(t) / reps;
    }
    alone = slowest(w, alone);
    after = slowest(w, after);
    if (print)
      std::printf("| %lld MiB | %.1f | %.1f | %.0f%% |\n", (long long)(bytes >> 20), alone, after,
                  100.0 * std::max(0.0, 1.0 - after / alone));
  }
  if (work[0] < 0) std::printf("%g\n", work[0]);  // keeps the arithmetic
  dist::finalize();
  return 0;
}
