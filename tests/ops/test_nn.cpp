// Modules: PyTorch-style parameter names, state loading with clear errors, train/eval,
// Linear, xavier_uniform_, Dropout, and HDF5 state files (round trip, atomic writes, bad
// files).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/io/tensor_file.h"
#include "engine/nn/layers.h"
#include "engine/ops/dropout.h"
#include "engine/ops/ops.h"

using namespace melgrad;
namespace fs = std::filesystem;

namespace {

struct TinyNet : nn::Layer {
  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::Linear> head;
  Tensor scale = Tensor::ones({1});  // a buffer
  explicit TinyNet(Generator& g) {
    features = register_module(
        "features", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Layer>>{
                        std::make_shared<nn::Linear>(4, 3, g), std::make_shared<nn::ReLU>(),
                        std::make_shared<nn::Dropout>(0.5, 1)}));
    head = register_module("head", std::make_shared<nn::Linear>(3, 2, g));
    register_buffer("scale", &scale);
  }
  Tensor forward(const Tensor& x) override { return head->forward(features->forward(x)) * scale; }
};

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("melgrad_test_nn_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("parameters carry PyTorch's dotted names in registration order") {
  Generator g(0);
  TinyNet net(g);
  std::vector<std::string> names;
  for (auto& [n, t] : net.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"features.0.weight", "features.0.bias", "head.weight",
                                          "head.bias"});
  CHECK(net.parameter_count() == 4 * 3 + 3 + 3 * 2 + 2);
  CHECK(net.named_buffers().size() == 1);
  CHECK(net.state().back().first == "scale");
}

TEST_CASE("Linear: shapes, PyTorch's init bounds, forward values") {
  Generator g(1);
  nn::Linear fc(100, 7, g);
  CHECK(fc.weight.shape() == Shape{7, 100});
  const double bound = 1 / std::sqrt(100.0);  // kaiming_uniform(a=sqrt 5) gives 1/sqrt(fan_in)
  CHECK(max(abs(fc.weight)).item() <= bound);
  CHECK(max(abs(fc.weight)).item() > 0.9 * bound);
  CHECK(max(abs(fc.bias)).item() <= bound);
  Tensor x = Tensor::ones({2, 100});
  Tensor y = fc(x);
  CHECK(y.shape() == Shape{2, 7});
  CHECK(y.to_vector()[0] == doctest::Approx((sum(fc.weight, {1}) + fc.bias).to_vector()[0]));
  CHECK_THROWS_WITH_AS(fc(Tensor::ones({2, 99})), doctest::Contains("does not end in 100"),
                       std::invalid_argument);
}

TEST_CASE("xavier_uniform_: PyTorch's bound sqrt(6 / (fan_in + fan_out)) and its statistics") {
  // Linear-shaped [200, 300]: bound sqrt(6 / 500). 60 000 draws of U(-b, b): the sample
  // mean has sd b / sqrt(3 * 60000) = 2.6e-4 (checked at 1.5e-3, ~6 sd) and the sample
  // variance b^2 / 3 = 2 / (fan_in + fan_out) has relative sd 3.7e-3 (checked at 2%, ~5 sd);
  // a fan_in-only or fan_out-only bound changes the variance by 40% or more.
  Generator g(5);
  Tensor w = Tensor::empty({200, 300}, DType::f64);
  nn::xavier_uniform_(w, g);
  const double b = std::sqrt(6.0 / 500.0);
  std::vector<double> v = w.to_vector();
  double mean = 0, var = 0, largest = 0;
  for (double x : v) mean += x / double(v.size()), largest = std::max(largest, std::abs(x));
  for (double x : v) var += (x - mean) * (x - mean) / double(v.size());
  CHECK(largest <= b);
  CHECK(largest > 0.999 * b);
  CHECK(std::abs(mean) < 1.5e-3);
  CHECK(var == doctest::Approx(2.0 / 500.0).epsilon(0.02));
  // Conv-shaped [16, 4, 3, 3]: both fans include the 3 x 3 receptive field, b = sqrt(6 / 180).
  Tensor k = Tensor::empty({16, 4, 3, 3});
  nn::xavier_uniform_(k, g);
  const double bk = std::sqrt(6.0 / (4 * 9 + 16 * 9));
  CHECK(max(abs(k)).item() <= bk * (1 + 1e-6));  // float32 rounding of the bound
  CHECK(max(abs(k)).item() > 0.95 * bk);
  CHECK(k.dtype() == DType::f32);
  // Same seed, same values (explicit generators, no global RNG).
  Generator g1(9), g2(9);
  Tensor a = Tensor::empty({3, 4}), c = Tensor::empty({3, 4});
  nn::xavier_uniform_(a, g1);
  nn::xavier_uniform_(c, g2);
  CHECK(a.to_vector() == c.to_vector());
  Tensor bias = Tensor::empty({4});
  CHECK_THROWS_WITH_AS(nn::xavier_uniform_(bias, g), doctest::Contains("at least 2 dims"),
                       std::invalid_argument);
}

TEST_CASE("load_state copies by name and reports missing, unexpected and mis-shaped keys") {
  Generator g(2), h(3);
  TinyNet a(g), b(h);
  std::map<std::string, Tensor> state;
  for (auto& [n, t] : a.state()) state[n] = t;
  b.load_state(state);
  CHECK(allclose(a.head->weight, b.head->weight, 0, 0));
  CHECK_FALSE(a.head->weight.same(b.head->weight));  // values copied, not shared

  auto broken = state;
  broken.erase("head.bias");
  broken["extra"] = Tensor::zeros({1});
  broken["features.0.weight"] = Tensor::zeros({3, 5});
  try {
    b.load_state(broken);
    FAIL("load_state accepted a broken state");
  } catch (const std::invalid_argument& e) {
    std::string m = e.what();
    CHECK(m.find("missing: head.bias") != std::string::npos);
    CHECK(m.find("unexpected: extra") != std::string::npos);
    CHECK(m.find("features.0.weight expects [3, 4], got [3, 5]") != std::string::npos);
  }
  broken.erase("extra");
  broken["features.0.weight"] = state["features.0.weight"];
  CHECK_NOTHROW(b.load_state(broken, /*strict=*/false));
}

TEST_CASE("train/eval reach every child; dropout is identity in eval") {
  Generator g(4);
  TinyNet net(g);
  Tensor x = Tensor::uniform({8, 4}, -1, 1, g);
  net.eval();
  CHECK_FALSE(net.features->operator[](2)->is_training());
  CHECK(allclose(net(x), net(x), 0, 0));
  net.train();
  CHECK(net.features->operator[](2)->is_training());
}

TEST_CASE("dropout: mask from Philox, inverted scaling, gradient through the same mask") {
  Tensor x = Tensor::ones({1000}, DType::f64).requires_grad_();
  Tensor y = dropout_with_seed(x, 0.25, 7);
  std::vector<double> v = y.to_vector();
  int kept = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    bool keep = philox_uniform(7, i) >= 0.25f;
    CHECK(v[i] == (keep ? doctest::Approx(1 / 0.75) : doctest::Approx(0.0)));
    kept += keep;
  }
  CHECK(kept > 700);
  CHECK(kept < 800);
  sum(y).backward();
  CHECK(allclose(x.grad(), y.detach()));
  CHECK(allclose(dropout_with_seed(x, 0.25, 7), y));
  CHECK_FALSE(allclose(dropout_with_seed(x, 0.25, 8), y));
  // Known Philox4x32-10 answer (Random123's test vector for counter 0, key 0).
  CHECK(philox_uniform(0, 0) == doctest::Approx(float(0x6627e8d5u >> 8) * 0x1.0p-24f));
}

TEST_CASE("state files: HDF5 round trip with attributes") {
  fs::path dir = temp_dir();
  Generator g(5), h(6);
  TinyNet a(g), b(h);
  std::string path = (dir / "state.h5").string();
  io::save_module(path, a, {{"format", "melgrad-state-1"}, {"epoch", "3"}});
  auto attrs = io::load_module(path, b);
  CHECK(attrs["epoch"] == "3");
  CHECK(attrs["format"] == "melgrad-state-1");
  for (auto& [n, t] : a.state()) {
    CAPTURE(n);
    Tensor other;
    for (auto& [m, u] : b.state())
      if (m == n) other = u;
    CHECK(allclose(t, other, 0, 0));
  }
  io::TensorFile f = io::load_tensor_file(path);
  CHECK(f.tensors.at("head.weight").dtype() == DType::f32);
  fs::remove_all(dir);
}

TEST_CASE("state files: atomic writes keep the old file; bad files are named in errors") {
  fs::path dir = temp_dir();
  std::string path = (dir / "keep.h5").string();
  io::save_tensor_file(path, {{"w", Tensor::ones({2})}});
  // A tensor name HDF5 cannot take fails the save: the old file must survive intact.
  CHECK_THROWS_AS(io::save_tensor_file(path, {{"a/b", Tensor::zeros({2})}}), std::invalid_argument);
  CHECK(io::load_tensor_file(path).tensors.at("w").to_vector() == std::vector<double>{1, 1});
  for (auto& e : fs::directory_iterator(dir))
    CHECK_MESSAGE(e.path().filename().string().find(".tmp-") == std::string::npos,
                  "temporary file left behind: ", e.path());
  std::ofstream(dir / "junk.h5") << "not hdf5 at all";
  CHECK_THROWS_WITH_AS(io::load_tensor_file((dir / "junk.h5").string()),
                       doctest::Contains("junk.h5: not an HDF5 file"), std::runtime_error);
  CHECK_THROWS_WITH_AS(io::load_tensor_file((dir / "missing.h5").string()),
                       doctest::Contains("missing.h5: no such file"), std::runtime_error);
  fs::remove_all(dir);
}
