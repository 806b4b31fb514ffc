// Tensors on cuda: factories, .to(device) round trips (every dtype, strided views),
// copy_ across devices with dtype conversion and into strided destinations, random fills
// that reproduce the CPU's values, modules moved to the device, and the errors a user meets
// (float64 compute, an op without a device kernel, mixed devices, a second GPU). Moves and
// copies are exact (tolerance 0).
// Expected per build: cuda::variant() is "emulator" in test_cuda and "cuda" in
// test_cuda_native; every other value and message is the same. The GPU build's no-GPU
// error is checked only by test_cuda_native on a machine without a GPU (its main selects
// that case there and excludes it where a GPU is present).
#include <doctest/doctest.h>

#include <vector>

#include "engine/backend.h"
#include "engine/cuda/cuda.h"
#include "engine/nn/layers.h"
#include "engine/ops/cnn.h"
#include "engine/ops/lstm.h"
#include "engine/ops/ops.h"
#include "tests/skip.h"

using namespace melgrad;

namespace {

const Device kCuda = Device::cuda(0);

void check_equal(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  CHECK(a.to_vector() == b.to_vector());
}

}  // namespace

TEST_CASE("the cuda backend is registered by linking it") {
  CHECK(std::string(backend_for(kCuda).name()) == "cuda");
#if MELGRAD_KERNELS_EMU
  CHECK(std::string(cuda::variant()) == "emulator");
#else
  CHECK(std::string(cuda::variant()) == "cuda");
#endif
  Tensor t = Tensor::zeros({2, 3}, DType::f32, kCuda);
  CHECK(t.device() == kCuda);
  CHECK(t.str() == "float32[2, 3] cuda:0");
}

TEST_CASE("factories on cuda: zeros, ones, full, arange, scalar and item()") {
  check_equal(Tensor::ones({3, 4}, DType::f32, kCuda), Tensor::ones({3, 4}));
  check_equal(Tensor::full({5}, -2.5, DType::f32, kCuda), Tensor::full({5}, -2.5));
  check_equal(Tensor::arange(7, DType::i64, kCuda), Tensor::arange(7, DType::i64));
  CHECK(Tensor::scalar(3.25, DType::f32, kCuda).item() == 3.25);
  CHECK(Tensor::zeros({0, 3}, DType::f32, kCuda).to_vector().empty());
}

TEST_CASE(".to(cuda) and back is exact for every dtype and for strided views") {
  Generator gen(5);
  const Tensor f = Tensor::normal({4, 6}, 0, 1, gen);
  const Tensor d = f.to(DType::f64);
  const Tensor i = Tensor::from_vector(std::vector<int64_t>{3, -1, 7, 1LL << 40}, {2, 2});
  for (const Tensor& t : {f, d, i}) {
    CAPTURE(t.str());
    const Tensor on = t.to(kCuda);
    CHECK(on.device() == kCuda);
    CHECK(on.dtype() == t.dtype());
    check_equal(on.to(Device::cpu()), t);
  }
  // A transposed view and a stepped slice, both ways.
  check_equal(f.transpose(0, 1).to(kCuda).to(Device::cpu()), f.transpose(0, 1));
  check_equal(slice(f, 1, 1, 6, 2).to(kCuda), slice(f, 1, 1, 6, 2));
  check_equal(f.to(kCuda).transpose(0, 1).to(Device::cpu()), f.transpose(0, 1).contiguous());
  check_equal(slice(f.to(kCuda), 0, 1, 4, 2), slice(f, 0, 1, 4, 2));
}

TEST_CASE("copy_ converts dtypes across devices and writes into strided destinations") {
  Generator gen(6);
  const Tensor src = Tensor::uniform({3, 5}, -4, 4, gen, DType::f64);

  Tensor dst = Tensor::zeros({3, 5}, DType::f32, kCuda);
  dst.copy_(src);  // host f64 -> device f32
  check_equal(dst, src.to(DType::f32));

  Tensor back = Tensor::zeros({3, 5}, DType::i64);
  back.copy_(dst);  // device f32 -> host int64 (truncation, as on the CPU)
  check_equal(back, src.to(DType::f32).to(DType::i64));

  // Into every other column of a device tensor: the other columns stay untouched.
  Tensor wide = Tensor::full({3, 10}, 9.0, DType::f32, kCuda);
  Tensor cols = slice(wide, 1, 0, 10, 2);
  cols.copy_(src.transpose(0, 1).transpose(0, 1));
  Tensor expect = Tensor::full({3, 10}, 9.0);
  slice(expect, 1, 0, 10, 2).copy_(src);
  check_equal(wide, expect);

  // Device to device with conversion, from a transposed view.
  Tensor t64 = Tensor::empty({5, 3}, DType::f64, kCuda);
  t64.copy_(dst.transpose(0, 1));
  check_equal(t64, src.to(DType::f32).transpose(0, 1).to(DType::f64));
}

TEST_CASE("random fills on cuda reproduce the CPU's values from the same seed") {
  Generator a(77), b(77);
  check_equal(Tensor::normal({33, 7}, 0.5, 2.0, a, DType::f32, kCuda),
              Tensor::normal({33, 7}, 0.5, 2.0, b));
  check_equal(Tensor::uniform({9}, -1, 3, a, DType::f32, kCuda), Tensor::uniform({9}, -1, 3, b));
  CHECK(a.next_u64() == b.next_u64());  // both generators advanced alike
}

TEST_CASE("a module moved to cuda keeps its values and trains there") {
  Generator gen(8);
  nn::Linear layer(4, 3, gen);
  const Tensor w = layer.weight.detach().clone();
  layer.to(kCuda);
  CHECK(layer.weight.device() == kCuda);
  CHECK(layer.weight.is_leaf());
  CHECK(layer.weight.requires_grad());
  check_equal(layer.weight, w);
  Tensor y = layer.forward(Tensor::ones({2, 4}, DType::f32, kCuda));
  sum(y).backward();
  REQUIRE(layer.weight.grad().defined());
  CHECK(layer.weight.grad().device() == kCuda);
  check_equal(layer.bias.grad(), Tensor::full({3}, 2.0));
}

TEST_CASE("errors name the op, the dtype or the devices") {
  const Tensor d64 = Tensor::ones({3}, DType::f64, kCuda);  // storage and copies are fine
  CHECK_THROWS_WITH_AS(exp(d64),
                       "op 'exp': float64 is not supported on cuda:0 (got float64[3] cuda:0); "
                       "the cuda backend has no float64 kernel for it, convert with "
                       ".to(DType::f32)",
                       std::invalid_argument);
  CHECK(exp(d64.to(DType::f32)).device() == kCuda);

  // The layer ops run on cuda in float32, like every op there.
  const Tensor x = Tensor::ones({1, 1, 4, 4}, DType::f64, kCuda);
  const Tensor w = Tensor::ones({2, 1, 3, 3}, DType::f64, kCuda);
  CHECK_THROWS_WITH(conv2d(x, w, Tensor(), {}),
                    doctest::Contains("op 'conv2d': float64 is not supported on cuda:0"));
  CHECK_THROWS_WITH(max_pool2d(x, {.kernel = {2, 2}}),
                    doctest::Contains("op 'max_pool2d': float64 is not supported on cuda:0"));
  CHECK_THROWS_WITH(batch_norm(x, Tensor(), Tensor(), nullptr, nullptr, true),
                    doctest::Contains("op 'batch_norm': float64 is not supported on cuda:0"));

  // The LSTM's lengths live with its input (the kernels read them on the device).
  const Tensor seq = Tensor::ones({2, 3, 4}, DType::f32, kCuda);
  const Tensor lengths = Tensor::from_vector(std::vector<int64_t>{3, 2}, {2});
  const Tensor w_ih = Tensor::ones({8, 4}, DType::f32, kCuda),
               w_hh = Tensor::ones({8, 2}, DType::f32, kCuda);
  const Tensor b = Tensor::zeros({8}, DType::f32, kCuda);
  CHECK_THROWS_WITH(lstm_layer(seq, lengths, w_ih, w_hh, b, b, false),
                    doctest::Contains("tensors on different devices"));

  CHECK_THROWS_WITH_AS(add(Tensor::ones({2}, DType::f32, kCuda), Tensor::ones({2})),
                       "op 'add': tensors on different devices (cuda:0 and cpu)",
                       std::invalid_argument);
  CHECK_THROWS_WITH(Tensor::ones({2}, DType::f32, Device::cuda(1)),
                    "device cuda:1 is not supported: melgrad runs on one GPU, cuda:0");
}

TEST_CASE("an out-of-range index on cuda is reported at the next synchronisation") {
  const Tensor x = Tensor::ones({3, 4}, DType::f32, kCuda);
  const Tensor bad = Tensor::from_vector(std::vector<int64_t>{0, 5}, {2}).to(kCuda);
  Tensor y = index_select(x, 0, bad);  // the kernel cannot throw: it records the error
  CHECK_THROWS_WITH_AS(y.to_vector(),
                       "cuda:0: index_select: an index was out of range (found by the kernel, "
                       "reported at the next synchronisation)",
                       std::out_of_range);
  CHECK_NOTHROW(cuda::synchronize());  // reported once, then cleared
  CHECK(y.defined());
}

#if MELGRAD_KERNELS_CUDA
// test_cuda_native runs this case only where there is no GPU (tests/cuda/native_main.cpp).
TEST_CASE("the GPU build without a GPU: a clear error that points to melgrad-emu") {
  if (cuda::device_available())
    return melgrad::testing::skip("this machine has a GPU: the no-GPU error cannot be seen");
  CHECK_THROWS_WITH(Tensor::zeros({2}, DType::f32, kCuda),
                    doctest::Contains("melgrad-emu runs the same kernels through the emulator"));
  CHECK(Tensor::zeros({2}).device() == Device::cpu());  // the CPU is unaffected
}
#endif
