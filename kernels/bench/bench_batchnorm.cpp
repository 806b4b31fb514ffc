// BatchNorm2d benchmarks at the study's shapes (bench_conv_shapes.h): over every conv
// layer's output [32, O, H, W], training forward (batch statistics + running-stat update),
// eval forward (running statistics: fused scale/shift only) and training backward (dx,
// dweight, dbias), for the melgrad kernels and cuDNN:
//   batch_norm_train_forward/<config>/T<width>/L<layer> ...  /melgrad | /cudnn
// B/s counts the passes over x each kernel sequence makes (training forward: read x twice,
// write y; backward: read x and dy twice, write dx). GPU only.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/bench/bench_conv_shapes.h"

namespace melgrad::kernels::bench {
namespace {

enum class Pass { train_forward, eval_forward, train_backward };

void run_norm(benchmark::State& state, const StudyLayer& l, Pass pass, DnnImpl impl) {
  if (!gpu_ready(state, impl, l)) return;
  const int64_t N = l.N, C = l.O, S = l.H * l.W;
  const std::size_t n = static_cast<std::size_t>(N * C * S), c = static_cast<std::size_t>(C);
  DeviceBuffer<float> x(bench_inputs(n, 1)), y(n), dy(bench_inputs(n, 2)), dx(n),
      w(bench_inputs(c, 3, 0.5f, 1.5f)), b(bench_inputs(c, 4)), rm(std::vector<float>(c, 0.0f)),
      rv(std::vector<float>(c, 1.0f)), mean(c), invstd(c), dw(c), db(c);
  BatchNormForwardParams f;
  f.x = x.data(), f.y = y.data(), f.weight = w.data(), f.bias = b.data(),
  f.running_mean = rm.data();
  f.running_var = rv.data(), f.save_mean = mean.data(), f.save_invstd = invstd.data();
  f.N = N, f.C = C, f.S = S, f.training = pass != Pass::eval_forward, f.impl = impl;
  DeviceBuffer<float> fws(batch_norm_forward_workspace_bytes(f) / sizeof(float) + 1);
  f.workspace = fws.data(), f.workspace_bytes = fws.size() * sizeof(float);
  const double bytes = 4.0 * static_cast<double>(n);
  if (pass != Pass::train_backward) {
    time_launches(state, impl, 0.0, pass == Pass::train_forward ? 3 * bytes : 2 * bytes,
                  [&] { batch_norm_forward(f); });
    return;
  }
  batch_norm_forward(f);
  BatchNormBackwardParams g;
  g.x = x.data(), g.dy = dy.data(), g.weight = w.data(), g.save_mean = mean.data(),
  g.save_invstd = invstd.data();
  g.dx = dx.data(), g.dweight = dw.data(), g.dbias = db.data(), g.N = N, g.C = C, g.S = S,
  g.impl = impl;
  DeviceBuffer<float> gws(batch_norm_backward_workspace_bytes(g) / sizeof(float) + 1);
  g.workspace = gws.data(), g.workspace_bytes = gws.size() * sizeof(float);
  time_launches(state, impl, 0.0, 5 * bytes, [&] { batch_norm_backward(g); });
}

const bool registered = [] {
  const std::pair<Pass, const char*> passes[] = {
      {Pass::train_forward, "batch_norm_train_forward"},
      {Pass::eval_forward, "batch_norm_eval_forward"},
      {Pass::train_backward, "batch_norm_train_backward"}};
  for (const auto& [pass, pass_name] : passes) {
    std::vector<StudyLayer> layers = study_layers();
    layers.push_back(emulator_layer());
    for (const StudyLayer& l : layers) {
      for (DnnImpl impl : {DnnImpl::melgrad, DnnImpl::cudnn}) {
        if (l.emulator_sized && impl == DnnImpl::cudnn) continue;
        const std::string name = std::string(pass_name) + "/" + l.name + "/" + dnn_impl_name(impl);
        benchmark::RegisterBenchmark(
            name.c_str(), [l, pass, impl](benchmark::State& st) { run_norm(st, l, pass, impl); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace melgrad::kernels::bench
