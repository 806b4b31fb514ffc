// Pooling benchmarks at the study's shapes (bench_conv_shapes.h): after every conv layer,
// pool p x p (stride p) over the conv's output [32, O, H, W], forward and backward, for
// every PoolKind (kPoolKinds) on the melgrad kernels (max: with argmax) and, for max, cuDNN
// (no indices: its backward re-reads x and y):
//   <kind>_pool_forward/<config>/T<width>/L<layer> ...  /melgrad | /cudnn
// B/s counts the bytes each implementation must move. GPU only.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kernels/bench/bench_conv_shapes.h"
#include "kernels/pool.h"

namespace melgrad::kernels::bench {
namespace {

void run_pool(benchmark::State& state, const StudyLayer& l, PoolKind kind, bool backward,
              DnnImpl impl) {
  if (!gpu_ready(state, impl, l)) return;
  Pool2dShape s;
  s.N = l.N, s.C = l.O, s.H = l.H, s.W = l.W, s.kh = s.kw = s.stride_h = s.stride_w = l.pool;
  s.kind = kind;
  const std::size_t nx = static_cast<std::size_t>(s.N * s.C * s.H * s.W),
                    ny = static_cast<std::size_t>(s.N * s.C * s.out_h() * s.out_w());
  DeviceBuffer<float> x(bench_inputs(nx, 1)), y(ny), dy(bench_inputs(ny, 2)), dx(nx);
  DeviceBuffer<int64_t> argmax(ny);
  const bool melgrad = impl == DnnImpl::melgrad, indices = melgrad && s.has_indices();
  Pool2dForwardParams f{x.data(), y.data(), indices ? argmax.data() : nullptr, s, impl};
  if (!backward) {
    time_launches(state, impl, 0.0, 4.0 * (nx + ny) + (indices ? 8.0 * ny : 0.0),
                  [&] { pool2d_forward(f); });
    return;
  }
  pool2d_forward(f);
  Pool2dBackwardParams b;
  b.dy = dy.data(), b.dx = dx.data(), b.shape = s, b.impl = impl;
  if (indices) {
    b.argmax = argmax.data();
  } else if (!melgrad) {
    b.x = x.data(), b.y = y.data();
  }
  time_launches(state, impl, 0.0,
                melgrad ? 4.0 * (nx + ny) + (indices ? 8.0 * ny : 0.0) : 4.0 * (2 * nx + 2 * ny),
                [&] { pool2d_backward(b); });
}

const bool registered = [] {
  for (PoolKind kind : kPoolKinds)
    for (bool backward : {false, true}) {
      std::vector<StudyLayer> layers = study_layers();
      layers.push_back(emulator_layer());
      for (const StudyLayer& l : layers) {
        if (l.H < l.pool || l.W < l.pool) continue;  // the last c16-p3 layer at T = 40 is 4 x 1
        for (DnnImpl impl : {DnnImpl::melgrad, DnnImpl::cudnn}) {
          if (impl == DnnImpl::cudnn && (l.emulator_sized || kind != PoolKind::max)) continue;
          const std::string name = std::string(pool_kind_name(kind)) +
                                   (backward ? "_pool_backward/" : "_pool_forward/") + l.name +
                                   " pool " + std::to_string(l.pool) + "/" + dnn_impl_name(impl);
          benchmark::RegisterBenchmark(name.c_str(),
                                       [l, kind, backward, impl](benchmark::State& st) {
                                         run_pool(st, l, kind, backward, impl);
                                       })
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      }
    }
  return true;
}();

}  // namespace
}  // namespace melgrad::kernels::bench
