// Forward and backward of each layer of the study's networks at the seed's shapes, batch 32,
// float32 on the CPU (Google Benchmark). Layer names: <layer>_<forward|backward>/<case>.
//
//   conv, batchnorm, maxpool  the 4 blocks of the CNNs: channels 4/16/64/256 (pool 2) and
//                             16/64/256/512 (pool 3), input [32, 1, T, 128] with T = 40
//                             (beat) and T = 1293 (full); block k's conv input is the
//                             previous block's pooled output, e.g. full-4_16_64_256/L2:
//                             x [32, 4, 646, 64] -> [32, 16, 646, 64].
//   linear                    the classifier's layers: 4096 / 163840 / 7680 -> 128, 128 -> 64,
//                             64 -> 10, and the LSTM head 200 -> 10.
//   lstm_layer                one bidirectional layer of nn.LSTM(128, 100, 2, bidirectional):
//                             layer 0 (I = 128) and layer 1 (I = 200) at T = 40 and T = 1293,
//                             lengths uniform in [0.9 T, T] (seeded), H = 100.
//   lstm_stack                the whole 2-layer stack with dropout 0.2 between the layers.
//
// "forward" runs without recording a graph (no saved tensors); "backward" times only
// Tensor::backward() of sum(y * gy) after an untimed recorded forward, i.e. the gradients
// of the input and of every parameter. Threads: OMP_NUM_THREADS, 2 when it is not set (the
// study's machine). Run a subset with --benchmark_filter=REGEX.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/nn/cnn_layers.h"
#include "engine/nn/layers.h"
#include "engine/nn/lstm.h"
#include "engine/ops/lstm.h"
#include "engine/ops/ops.h"

using namespace melgrad;

namespace {

constexpr int64_t kBatch = 32, kMels = 128;

// Times fn() per iteration with autograd off.
void time_forward(benchmark::State& state, const std::function<Tensor()>& fn) {
  NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = fn();
    benchmark::DoNotOptimize(y.raw_data());
  }
}

// Per iteration: an untimed recorded forward, then the timed backward of <y, gy>.
void time_backward(benchmark::State& state, const std::function<Tensor()>& forward,
                   const std::function<void()>& zero_grads) {
  Tensor gy;
  for (auto _ : state) {
    state.PauseTiming();
    zero_grads();
    Tensor y = forward();
    if (!gy.defined()) {
      Generator g(3);
      gy = Tensor::normal(y.shape(), 0, 1, g);
    }
    state.ResumeTiming();
    y.backward(gy);
  }
}

Tensor input(const Shape& s, uint64_t seed, bool requires_grad) {
  Generator g(seed);
  Tensor x = Tensor::normal(s, 0, 1, g);
  if (requires_grad) x.requires_grad_();
  return x;
}

std::string shape_name(const Shape& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "x" : "") + std::to_string(s[i]);
  return r;
}

// ---- CNN blocks ----------------------------------------------------------------------------

void register_cnn_blocks(const char* stage, int64_t T, const std::vector<int64_t>& channels,
                         int64_t pool) {
  int64_t c_in = 1, h = T, w = kMels;
  std::string config = std::string(stage) + "-";
  for (size_t k = 0; k < channels.size(); ++k)
    config += (k ? "_" : "") + std::to_string(channels[k]);
  for (size_t k = 0; k < channels.size(); ++k) {
    const int64_t c_out = channels[k];
    const Shape xs{kBatch, c_in, h, w}, ys{kBatch, c_out, h, w};
    const std::string tag = config + "/L" + std::to_string(k + 1) + ":" + shape_name(xs);
    const std::string ytag = config + "/L" + std::to_string(k + 1) + ":" + shape_name(ys);
    benchmark::RegisterBenchmark(("conv_forward/" + tag).c_str(), [=](benchmark::State& st) {
      Generator g(1);
      nn::Conv2d conv(c_in, c_out, 3, g, 1, 1);
      Tensor x = input(xs, 2, false);
      time_forward(st, [&] { return conv(x); });
    })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("conv_backward/" + tag).c_str(), [=](benchmark::State& st) {
      Generator g(1);
      nn::Conv2d conv(c_in, c_out, 3, g, 1, 1);
      Tensor x = input(xs, 2, k > 0);  // the first layer's input (the spectrogram) needs none
      time_backward(
          st, [&] { return conv(x); },
          [&] {
            conv.zero_grad();
            x.zero_grad();
          });
    })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("batchnorm_forward/" + ytag).c_str(), [=](benchmark::State& st) {
      nn::BatchNorm2d bn(c_out, 1e-5, 0.1, true, false);
      Tensor x = input(ys, 4, false);
      time_forward(st, [&] { return bn(x); });
    })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("batchnorm_backward/" + ytag).c_str(), [=](benchmark::State& st) {
      nn::BatchNorm2d bn(c_out, 1e-5, 0.1, true, false);
      Tensor x = input(ys, 4, true);
      time_backward(
          st, [&] { return bn(x); },
          [&] {
            bn.zero_grad();
            x.zero_grad();
          });
    })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("maxpool_forward/" + ytag).c_str(), [=](benchmark::State& st) {
      nn::MaxPool2d mp(pool);
      Tensor x = input(ys, 5, false);
      time_forward(st, [&] { return mp(x); });
    })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("maxpool_backward/" + ytag).c_str(), [=](benchmark::State& st) {
      nn::MaxPool2d mp(pool);
      Tensor x = input(ys, 5, true);
      time_backward(
          st, [&] { return mp(x); }, [&] { x.zero_grad(); });
    })->Unit(benchmark::kMillisecond);
    c_in = c_out, h /= pool, w /= pool;
  }
}

// ---- classifier ----------------------------------------------------------------------------

void register_linear(int64_t in, int64_t out) {
  const std::string tag = std::to_string(in) + "_to_" + std::to_string(out);
  benchmark::RegisterBenchmark(("linear_forward/" + tag).c_str(), [=](benchmark::State& st) {
    Generator g(1);
    nn::Linear fc(in, out, g);
    Tensor x = input({kBatch, in}, 2, false);
    time_forward(st, [&] { return fc(x); });
  })->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(("linear_backward/" + tag).c_str(), [=](benchmark::State& st) {
    Generator g(1);
    nn::Linear fc(in, out, g);
    Tensor x = input({kBatch, in}, 2, true);
    time_backward(
        st, [&] { return fc(x); },
        [&] {
          fc.zero_grad();
          x.zero_grad();
        });
  })->Unit(benchmark::kMicrosecond);
}

// ---- LSTM ----------------------------------------------------------------------------------

Tensor seeded_lengths(int64_t T) {
  Generator g(11);
  const int64_t lo = (9 * T + 9) / 10;  // ceil(0.9 T)
  std::vector<int64_t> len(kBatch);
  for (int64_t& l : len) l = lo + static_cast<int64_t>(g.below(static_cast<uint64_t>(T - lo + 1)));
  return Tensor::from_vector(len, {kBatch});
}

void register_lstm(int64_t T) {
  const int64_t H = 100;
  for (int64_t layer = 0; layer < 2; ++layer) {
    const int64_t I = layer == 0 ? kMels : 2 * H;
    const std::string tag = "T" + std::to_string(T) + "/layer" + std::to_string(layer) + ":I" +
                            std::to_string(I) + "_H100_bidirectional";
    auto make = [=](Generator& g) {
      const double k = 0.1;
      auto p = [&](const Shape& s) {
        Tensor t = Tensor::uniform(s, -k, k, g);
        t.requires_grad_();
        return t;
      };
      return std::array<LstmWeights, 2>{
          LstmWeights{p({4 * H, I}), p({4 * H, H}), p({4 * H}), p({4 * H})},
          LstmWeights{p({4 * H, I}), p({4 * H, H}), p({4 * H}), p({4 * H})}};
    };
    benchmark::RegisterBenchmark(("lstm_layer_forward/" + tag).c_str(), [=](benchmark::State& st) {
      Generator g(1);
      auto w = make(g);
      Tensor x = input({kBatch, T, I}, 2, false), len = seeded_lengths(T);
      time_forward(st, [&] { return lstm_bidirectional_layer(x, len, w[0], w[1])[0]; });
    })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("lstm_layer_backward/" + tag).c_str(), [=](benchmark::State& st) {
      Generator g(1);
      auto w = make(g);
      Tensor x = input({kBatch, T, I}, 2, layer > 0), len = seeded_lengths(T);
      time_backward(
          st, [&] { return lstm_bidirectional_layer(x, len, w[0], w[1])[0]; },
          [&] {
            x.zero_grad();
            for (auto& d : w)
              for (Tensor* t : {&d.w_ih, &d.w_hh, &d.b_ih, &d.b_hh}) t->zero_grad();
          });
    })->Unit(benchmark::kMillisecond);
  }
  const std::string tag = "T" + std::to_string(T) + "/2x100_bidirectional_dropout0.2";
  benchmark::RegisterBenchmark(("lstm_stack_forward/" + tag).c_str(), [=](benchmark::State& st) {
    Generator g(1);
    nn::LSTM net(kMels, H, 2, true, 0.2, g);
    Tensor x = input({kBatch, T, kMels}, 2, false), len = seeded_lengths(T);
    time_forward(st, [&] { return net(x, len).output; });
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("lstm_stack_backward/" + tag).c_str(), [=](benchmark::State& st) {
    Generator g(1);
    nn::LSTM net(kMels, H, 2, true, 0.2, g);
    Tensor x = input({kBatch, T, kMels}, 2, false), len = seeded_lengths(T);
    time_backward(
        st, [&] { return net(x, len).output; }, [&] { net.zero_grad(); });
  })->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  if (!std::getenv("OMP_NUM_THREADS")) omp_set_num_threads(2);
  for (int64_t T : {40, 1293}) {
    const char* stage = T == 40 ? "beat" : "full";
    register_cnn_blocks(stage, T, {4, 16, 64, 256}, 2);
    register_cnn_blocks(stage, T, {16, 64, 256, 512}, 3);
  }
  for (auto [in, out] : std::vector<std::pair<int64_t, int64_t>>{
           {4096, 128}, {163840, 128}, {7680, 128}, {128, 64}, {64, 10}, {200, 10}})
    register_linear(in, out);
  for (int64_t T : {40, 1293}) register_lstm(T);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
