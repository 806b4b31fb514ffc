// Convolution kernels (kernels/conv.cu, conv_backward.cu) against their CPU references and
// against the engine's CPU conv2d op (the semantics the CUDA backend must reproduce), on
// small odd shapes that reach every kernel: the 3x3 / stride 1 / padding 1 implicit GEMM,
// the general one (stride 2, asymmetric kernels and padding, 1x1, 5x5), both tile sizes
// (O or C <= 16 and > 16), the first-layer kernels (C == 1, also with a 31x31 filter whose
// weights exceed the default 48 KiB of shared memory), the fused bias + ReLU
// epilogue and its backward mask, and split-K backward-filter with and without a workspace.
// Tolerances: float32 kernels vs a float64 reference; every output is a sum of at most a
// few hundred O(1) products, so float32 rounding stays below 1e-5 * sqrt(terms); 2e-5
// absolute + 1e-4 relative bounds it with room (a dropped or doubled term moves a value by
// > 1e-2).
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "kernels/cnn_reference.h"
#include "kernels/conv.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

constexpr double kAtol = 2e-5, kRtol = 1e-4;

std::size_t x_size(const Conv2dShape& s) { return static_cast<std::size_t>(s.N * s.C * s.H * s.W); }
std::size_t w_size(const Conv2dShape& s) {
  return static_cast<std::size_t>(s.O * s.C * s.kh * s.kw);
}
std::size_t y_size(const Conv2dShape& s) {
  return static_cast<std::size_t>(s.N * s.O * s.out_h() * s.out_w());
}

struct Inputs {
  std::vector<float> x, w, b, dy;
};
Inputs make_inputs(const Conv2dShape& s, uint64_t seed) {
  return {random_floats(x_size(s), seed, -1.0f, 1.0f),
          random_floats(w_size(s), seed + 1, -0.5f, 0.5f),
          random_floats(static_cast<std::size_t>(s.O), seed + 2, -0.5f, 0.5f),
          random_floats(y_size(s), seed + 3, -1.0f, 1.0f)};
}

struct Expected {
  std::vector<float> y, dx, dw, db;
};
Expected reference(const Conv2dShape& s, const Inputs& in, bool bias, bool relu) {
  Expected e{std::vector<float>(y_size(s)), std::vector<float>(x_size(s)),
             std::vector<float>(w_size(s)), std::vector<float>(static_cast<std::size_t>(s.O))};
  conv2d_forward_reference(in.x.data(), in.w.data(), bias ? in.b.data() : nullptr, e.y.data(), s,
                           relu);
  const float* relu_y = relu ? e.y.data() : nullptr;
  conv2d_backward_data_reference(in.dy.data(), relu_y, in.w.data(), e.dx.data(), s);
  conv2d_backward_filter_reference(in.x.data(), in.dy.data(), relu_y, e.dw.data(), e.db.data(), s);
  return e;
}

struct RunOptions {
  bool bias = true;
  bool relu = false;
  ConvAlgo fwd_algo = ConvAlgo::automatic;
  ConvAlgo data_algo = ConvAlgo::automatic;
  ConvAlgo filter_algo = ConvAlgo::automatic;
  int split_k = 0;
  bool give_workspace = true;
};

// All three passes through the kernels under every schedule, against the reference; the
// split-K filter gradient adds its partial sums in a fixed order, so every schedule must
// also give the first schedule's bits.
void check_conv(const Conv2dShape& s, const RunOptions& o, uint64_t seed = 11) {
  const Inputs in = make_inputs(s, seed);
  const Expected e = reference(s, in, o.bias, o.relu);
  std::vector<float> first_dw;
  for_each_schedule([&] {
    DeviceBuffer<float> x(in.x), w(in.w), b(in.b), dy(in.dy), y(y_size(s)), dx(x_size(s)),
        dw(w_size(s)), db(static_cast<std::size_t>(s.O)), relu_y(e.y);
    Conv2dForwardParams f;
    f.x = x.data();
    f.weight = w.data();
    f.bias = o.bias ? b.data() : nullptr;
    f.y = y.data();
    f.shape = s;
    f.relu = o.relu;
    f.impl = DnnImpl::melgrad;
    f.algo = o.fwd_algo;
    conv2d_forward(f);
    {
      INFO("forward");
      check_close(y.to_host(), e.y, kAtol, kRtol);
    }

    Conv2dBackwardDataParams d;
    d.dy = dy.data();
    d.weight = w.data();
    d.relu_y = o.relu ? relu_y.data() : nullptr;  // the reference's y: same mask on both sides
    d.dx = dx.data();
    d.shape = s;
    d.impl = DnnImpl::melgrad;
    d.algo = o.data_algo;
    conv2d_backward_data(d);
    {
      INFO("backward data");
      check_close(dx.to_host(), e.dx, kAtol, kRtol);
    }

    Conv2dBackwardFilterParams g;
    g.x = x.data();
    g.dy = dy.data();
    g.relu_y = d.relu_y;
    g.dweight = dw.data();
    g.dbias = db.data();
    g.shape = s;
    g.split_k = o.split_k;
    g.impl = DnnImpl::melgrad;
    g.algo = o.filter_algo;
    DeviceBuffer<float> ws(conv2d_backward_filter_workspace_bytes(g) / sizeof(float));
    if (o.give_workspace) {
      g.workspace = ws.data();
      g.workspace_bytes = ws.size() * sizeof(float);
    }
    conv2d_backward_filter(g);
    INFO("backward filter");
    check_close(dw.to_host(), e.dw, kAtol, kRtol);
    check_close(db.to_host(), e.db, kAtol, kRtol);
    if (first_dw.empty()) {
      first_dw = dw.to_host();
    } else {
      CHECK(dw.to_host() == first_dw);
    }
  });
}

Conv2dShape shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t kh, int64_t kw,
                  int64_t sh = 1, int64_t sw = 1, int64_t ph = 0, int64_t pw = 0) {
  return {N, C, H, W, O, kh, kw, sh, sw, ph, pw};
}

}  // namespace

TEST_CASE("conv 3x3 stride 1 padding 1: the specialised kernels, both tile sizes") {
  for (const Conv2dShape& s : {shape(2, 3, 5, 7, 5, 3, 3, 1, 1, 1, 1),       // small tile
                               shape(2, 20, 4, 6, 40, 3, 3, 1, 1, 1, 1),     // large tile, K tails
                               shape(1, 17, 3, 3, 17, 3, 3, 1, 1, 1, 1)}) {  // C, O just over 16
    CAPTURE(s.C);
    CAPTURE(s.O);
    check_conv(s, {});
    // The general kernels must agree on the same shape.
    check_conv(s, {.fwd_algo = ConvAlgo::implicit_gemm,
                   .data_algo = ConvAlgo::implicit_gemm,
                   .filter_algo = ConvAlgo::implicit_gemm});
  }
}

TEST_CASE("conv general path: stride 2, odd kernels and padding, 1x1, 5x5, no bias") {
  struct Case {
    const char* name;
    Conv2dShape s;
    bool bias;
  };
  for (const Case& c :
       {Case{"3x2 stride 2 pad (1, 0)", shape(2, 2, 7, 5, 3, 3, 2, 2, 2, 1, 0), false},
        Case{"stride (2, 3) pad 1", shape(1, 3, 9, 11, 4, 2, 3, 2, 3, 1, 1), true},
        Case{"1x1", shape(2, 5, 3, 4, 6, 1, 1), true},
        Case{"5x5 pad 2", shape(1, 2, 6, 5, 3, 5, 5, 1, 1, 2, 2), true},
        Case{"kernel = padded input", shape(2, 2, 3, 2, 2, 5, 4, 1, 1, 1, 1), true},
        Case{"large tile stride 2", shape(1, 9, 6, 7, 33, 3, 3, 2, 2, 1, 1), true}}) {
    CAPTURE(c.name);
    check_conv(c.s, {.bias = c.bias});
  }
}

TEST_CASE("conv first-layer kernels (C == 1) against the reference and the GEMM path") {
  for (const Conv2dShape& s : {shape(2, 1, 8, 11, 4, 3, 3, 1, 1, 1, 1),    // the study's 1 -> 4
                               shape(1, 1, 6, 13, 16, 3, 3, 1, 1, 1, 1),   // 1 -> 16
                               shape(1, 1, 5, 6, 7, 3, 3, 1, 1, 1, 1),     // O not a multiple of 4
                               shape(1, 1, 5, 7, 24, 3, 3, 1, 1, 1, 1),    // O > 16: two passes
                               shape(2, 1, 7, 8, 5, 2, 3, 2, 3, 1, 1)}) {  // stride / kernel 2x3
    CAPTURE(s.O);
    CAPTURE(s.kh);
    check_conv(s, {.fwd_algo = ConvAlgo::first_layer, .filter_algo = ConvAlgo::first_layer});
    check_conv(s, {.relu = true,
                   .fwd_algo = ConvAlgo::first_layer,
                   .filter_algo = ConvAlgo::first_layer,
                   .split_k = 3});
  }
  // A 5x5 first layer has no backward-filter kernel of its own: automatic takes the GEMM.
  check_conv(shape(1, 1, 6, 6, 4, 5, 5, 1, 1, 2, 2), {});
}

TEST_CASE("conv first layer with a 31x31 filter: more weights than the default 48 KiB") {
  // 16 channels x 961 taps x 4 bytes = 61 504 bytes of shared memory for the first-layer
  // kernel: automatic takes the implicit GEMM, a forced first_layer opts in (the emulator,
  // like a GPU, refuses a launch above 48 KiB without it).
  const Conv2dShape s = shape(1, 1, 32, 33, 16, 31, 31);
  check_conv(s, {});
  check_conv(s, {.fwd_algo = ConvAlgo::first_layer});
#if MELGRAD_KERNELS_EMU
  // Which kernel automatic launched, told by its grid: the same blocks and threads as the
  // implicit GEMM, not those of the first-layer kernel.
  const Inputs in = make_inputs(s, 4);
  DeviceBuffer<float> x(in.x), w(in.w), y(y_size(s));
  auto forward_grid = [&](ConvAlgo algo) {
    Conv2dForwardParams f;
    f.x = x.data();
    f.weight = w.data();
    f.y = y.data();
    f.shape = s;
    f.impl = DnnImpl::melgrad;
    f.algo = algo;
    const melgrad::emu::Stats before = melgrad::emu::stats();
    conv2d_forward(f);
    const melgrad::emu::Stats after = melgrad::emu::stats();
    return std::pair{after.blocks - before.blocks, after.threads - before.threads};
  };
  CHECK(forward_grid(ConvAlgo::automatic) == forward_grid(ConvAlgo::implicit_gemm));
  CHECK(forward_grid(ConvAlgo::automatic) != forward_grid(ConvAlgo::first_layer));
#endif
  // Beyond the opt-in limit (227 KiB on sm_90 and in the emulator) a forced first_layer is
  // refused before the launch: 16 x 61 x 61 x 4 = 238 144 bytes.
  DeviceBuffer<float> a(16 * 61 * 61);
  Conv2dForwardParams f;
  f.x = f.weight = a.data();
  f.y = a.data();
  f.shape = shape(1, 1, 1, 1, 16, 61, 61, 1, 1, 30, 30);
  f.impl = DnnImpl::melgrad;
  f.algo = ConvAlgo::first_layer;
  CHECK_THROWS_WITH_AS(conv2d_forward(f),
                       doctest::Contains("algo first_layer needs 238144 bytes of shared memory "
                                         "for 16 channels of a 61x61 filter; the device allows"),
                       std::invalid_argument);
}

TEST_CASE("conv fused bias + ReLU epilogue and the masked backward") {
  const Conv2dShape s = shape(2, 4, 6, 5, 8, 3, 3, 1, 1, 1, 1);
  check_conv(s, {.relu = true});
  check_conv(s, {.bias = false, .relu = true, .fwd_algo = ConvAlgo::implicit_gemm});
  // The epilogue really clamps: every output is >= 0 and some are exactly 0.
  const Inputs in = make_inputs(s, 5);
  DeviceBuffer<float> x(in.x), w(in.w), b(in.b), y(y_size(s));
  Conv2dForwardParams f;
  f.x = x.data();
  f.weight = w.data();
  f.bias = b.data();
  f.y = y.data();
  f.shape = s;
  f.relu = true;
  f.impl = DnnImpl::melgrad;
  conv2d_forward(f);
  int zeros = 0, negative = 0;
  for (float v : y.to_host()) zeros += v == 0.0f, negative += v < 0.0f;
  CHECK(negative == 0);
  CHECK(zeros > 0);
}

TEST_CASE("conv backward-filter split-K: forced splits, own workspace, dbias or dweight alone") {
  const Conv2dShape s = shape(3, 3, 9, 10, 6, 3, 3, 1, 1, 1, 1);
  for (int split : {1, 2, 5, 17}) {
    CAPTURE(split);
    check_conv(s, {.split_k = split});
    check_conv(s,
               {.filter_algo = ConvAlgo::implicit_gemm, .split_k = split, .give_workspace = false});
  }
  // Only one of the two gradients.
  const Inputs in = make_inputs(s, 3);
  const Expected e = reference(s, in, true, false);
  DeviceBuffer<float> x(in.x), dy(in.dy), dw(w_size(s)), db(static_cast<std::size_t>(s.O));
  Conv2dBackwardFilterParams g;
  g.x = x.data();
  g.dy = dy.data();
  g.shape = s;
  g.impl = DnnImpl::melgrad;
  g.dbias = db.data();
  g.split_k = 4;
  conv2d_backward_filter(g);
  check_close(db.to_host(), e.db, kAtol, kRtol);
  g.dbias = nullptr;
  g.dweight = dw.data();
  conv2d_backward_filter(g);
  check_close(dw.to_host(), e.dw, kAtol, kRtol);
}

TEST_CASE("conv of an empty batch writes nothing forward and zero filter gradients") {
  Conv2dShape s = shape(0, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1);
  DeviceBuffer<float> dw(std::vector<float>(w_size(s), 7.0f)), db(std::vector<float>(3, 7.0f));
  Conv2dBackwardFilterParams g;
  g.shape = s;
  g.dweight = dw.data();
  g.dbias = db.data();
  g.impl = DnnImpl::melgrad;
  conv2d_backward_filter(g);
  CHECK(dw.to_host() == std::vector<float>(w_size(s), 0.0f));
  CHECK(db.to_host() == std::vector<float>(3, 0.0f));
  Conv2dForwardParams f;
  f.shape = s;
  conv2d_forward(f);  // N == 0: nothing to do, no pointer needed
}

TEST_CASE("conv launchers validate their parameters") {
  DeviceBuffer<float> a(64);
  Conv2dForwardParams f;
  f.x = a.data();
  f.weight = a.data();
  f.y = a.data();
  f.shape = shape(1, 1, 4, 4, 2, 3, 3);
  f.impl = DnnImpl::melgrad;
  f.shape.C = 0;
  CHECK_THROWS_WITH_AS(conv2d_forward(f), "conv2d_forward: shape.C must be >= 1 (got 0)",
                       std::invalid_argument);
  f.shape = shape(1, 1, 2, 2, 2, 5, 5);
  CHECK_THROWS_WITH_AS(conv2d_forward(f),
                       "conv2d_forward: kernel 5x5 is larger than the padded input 2x2",
                       std::invalid_argument);
  f.shape = shape(1, 2, 4, 4, 2, 3, 3);
  f.algo = ConvAlgo::first_layer;
  CHECK_THROWS_WITH_AS(conv2d_forward(f),
                       "conv2d_forward: algo first_layer needs C == 1 and O <= 32 (got C 2, O 2)",
                       std::invalid_argument);
  f.algo = ConvAlgo::implicit_gemm_3x3;
  CHECK_THROWS_AS(conv2d_forward(f), std::invalid_argument);  // padding 0
  f.algo = ConvAlgo::automatic;
  f.y = nullptr;
  CHECK_THROWS_WITH_AS(conv2d_forward(f), "conv2d_forward: y is null", std::invalid_argument);
  Conv2dBackwardDataParams d;
  d.shape = shape(1, 1, 4, 4, 2, 3, 3);
  d.dy = d.weight = a.data();
  d.dx = a.data();
  d.algo = ConvAlgo::first_layer;
  d.impl = DnnImpl::melgrad;
  CHECK_THROWS_WITH_AS(conv2d_backward_data(d), "conv2d_backward_data: has no first_layer kernel",
                       std::invalid_argument);
  Conv2dBackwardFilterParams g;
  g.shape = shape(2, 3, 9, 10, 6, 3, 3, 1, 1, 1, 1);
  g.x = g.dy = a.data();
  g.dweight = a.data();
  g.impl = DnnImpl::melgrad;
  g.split_k = 3;
  g.workspace = a.data();
  g.workspace_bytes = 4;
  CHECK_THROWS_AS(conv2d_backward_filter(g), std::invalid_argument);  // workspace too small
}

TEST_CASE("conv implementation selection: melgrad everywhere, cudnn only where built") {
  CHECK(parse_dnn_impl("MELGRAD_CONV", "melgrad") == DnnImpl::melgrad);
  CHECK(parse_dnn_impl("MELGRAD_CONV", "cudnn") == DnnImpl::cudnn);
  CHECK(parse_dnn_impl("MELGRAD_CONV", "") == DnnImpl::automatic);
  CHECK_THROWS_WITH_AS(parse_dnn_impl("MELGRAD_CONV", "cublas"),
                       "MELGRAD_CONV: unknown implementation 'cublas' (expected melgrad or cudnn)",
                       std::invalid_argument);
  if (!cudnn_built()) {
    DeviceBuffer<float> a(64);
    Conv2dForwardParams f;
    f.x = f.weight = a.data();
    f.y = a.data();
    f.shape = shape(1, 1, 4, 4, 2, 3, 3);
    f.impl = DnnImpl::cudnn;
#if MELGRAD_KERNELS_EMU
    CHECK_THROWS_WITH_AS(conv2d_forward(f),
                         "conv2d_forward: the cuDNN implementation was requested but this build "
                         "has no cuDNN (the emulator build); use melgrad",
                         std::invalid_argument);
#else
    CHECK_THROWS_AS(conv2d_forward(f), std::invalid_argument);
#endif
    CHECK(available_dnn_impls().size() == 1);
  }
}

// GPU build with cuDNN only (skipped elsewhere): the melgrad kernels against cuDNN, the
// reference of the nvcc build, on the study's layer shapes at a small batch.
TEST_CASE("conv melgrad kernels agree with cuDNN" * doctest::skip(!cudnn_built())) {
  for (const Conv2dShape& s :
       {shape(4, 1, 128, 40, 16, 3, 3, 1, 1, 1, 1), shape(4, 16, 42, 43, 64, 3, 3, 1, 1, 1, 1),
        shape(4, 64, 16, 5, 256, 3, 3, 1, 1, 1, 1), shape(3, 5, 9, 11, 7, 3, 2, 2, 3, 1, 0)}) {
    CAPTURE(s.C);
    CAPTURE(s.O);
    const Inputs in = make_inputs(s, 8);
    std::vector<std::vector<float>> results[2];
    // One ReLU mask for both backward passes (the reference's y), so that outputs within
    // rounding of 0 cannot be masked on one side only.
    const Expected e = reference(s, in, true, true);
    DeviceBuffer<float> mask(e.y);
    for (DnnImpl impl : {DnnImpl::melgrad, DnnImpl::cudnn}) {
      DeviceBuffer<float> x(in.x), w(in.w), b(in.b), dy(in.dy), y(y_size(s)), dx(x_size(s)),
          dw(w_size(s)), db(static_cast<std::size_t>(s.O));
      Conv2dForwardParams f;
      f.x = x.data(), f.weight = w.data(), f.bias = b.data(), f.y = y.data(), f.shape = s;
      f.relu = true, f.impl = impl;
      conv2d_forward(f);
      Conv2dBackwardDataParams d;
      d.dy = dy.data(), d.weight = w.data(), d.relu_y = mask.data(), d.dx = dx.data();
      d.shape = s, d.impl = impl;
      conv2d_backward_data(d);
      Conv2dBackwardFilterParams g;
      g.x = x.data(), g.dy = dy.data(), g.relu_y = mask.data(), g.dweight = dw.data();
      g.dbias = db.data(), g.shape = s, g.impl = impl;
      conv2d_backward_filter(g);
      results[impl == DnnImpl::cudnn] = {y.to_host(), dx.to_host(), dw.to_host(), db.to_host()};
    }
    // Sums of up to 4 * 128 * 40 products for dweight: 1e-3 relative.
    for (std::size_t i = 0; i < 4; ++i) check_close(results[0][i], results[1][i], 1e-3, 1e-3);
  }
}
