// LSTM tests: the fused ops (lstm_layer, lstm_bidirectional_layer) against the primitive-op
// reference in float64 and float32, packed-sequence semantics (padded steps, padding
// length, h_n), argument errors, the layer stack with dropout, the readout, nn::LSTM's
// PyTorch names, a float64 gradient check of the 2-layer stack + readout, and the PyTorch
// golden fixtures bilstm_packed / bilstm_regression_l1 (forward, gradients, 3 Adam steps,
// the regression losses).
// Shapes: x [N, T, I], lengths [N], output [N, T, D*H], h_n/c_n [L*D, N, H].
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>

#include "engine/autograd.h"
#include "engine/gradcheck.h"
#include "engine/nn/layers.h"
#include "engine/nn/lstm.h"
#include "engine/ops/loss.h"
#include "engine/ops/lstm.h"
#include "engine/ops/ops.h"
#include "engine/optim/optim.h"
#include "engine/registry.h"
#include "tests/ops/npy_fixture.h"
#include "tests/ops/tensor_checks.h"

using namespace melgrad;
using test::check_close;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

struct LayerCase {
  Tensor x, lengths;
  LstmWeights w;
  Tensor wo, wh, wc;  // fixed random weights of the loss sum(out*wo) + sum(h*wh) + sum(c*wc)
};

// Random x (also at padded steps: they must be ignored), weights uniform(+-0.6).
LayerCase make_case(uint64_t seed, int64_t T, int64_t I, int64_t H, std::vector<int64_t> lengths,
                    DType dt) {
  Generator g(seed);
  const int64_t N = static_cast<int64_t>(lengths.size()), G = 4 * H;
  LayerCase c;
  c.x = Tensor::normal({N, T, I}, 0, 1, g, dt);
  c.lengths = Tensor::from_vector(lengths, {N});
  c.w = {Tensor::uniform({G, I}, -0.6, 0.6, g, dt), Tensor::uniform({G, H}, -0.6, 0.6, g, dt),
         Tensor::uniform({G}, -0.6, 0.6, g, dt), Tensor::uniform({G}, -0.6, 0.6, g, dt)};
  c.wo = Tensor::normal({N, T, H}, 0, 1, g, dt);
  c.wh = Tensor::normal({N, H}, 0, 1, g, dt);
  c.wc = Tensor::normal({N, H}, 0, 1, g, dt);
  return c;
}

using LayerFn =
    std::function<std::array<Tensor, 3>(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                        const Tensor&, const Tensor&, bool)>;

// {output, h_n, c_n, dx, dw_ih, dw_hh, db_ih, db_hh} of one layer under the case's loss.
std::vector<Tensor> run_layer(const LayerCase& c, bool reverse, const LayerFn& f) {
  std::vector<Tensor> leaves{c.x.clone(), c.w.w_ih.clone(), c.w.w_hh.clone(), c.w.b_ih.clone(),
                             c.w.b_hh.clone()};
  for (Tensor& t : leaves) t.requires_grad_();
  auto [out, h, cn] = f(leaves[0], c.lengths, leaves[1], leaves[2], leaves[3], leaves[4], reverse);
  Tensor wo = c.wo.narrow(1, 0, out.size(1));
  (sum(out * wo) + sum(h * c.wh) + sum(cn * c.wc)).backward();
  std::vector<Tensor> r{out.detach(), h.detach(), cn.detach()};
  for (Tensor& t : leaves) r.push_back(t.grad());
  return r;
}

const char* kNames[] = {"output",    "h_n",       "c_n",       "grad x",
                        "grad w_ih", "grad w_hh", "grad b_ih", "grad b_hh"};

void compare_fused_with_reference(DType dt, double rtol, double atol) {
  for (bool reverse : {false, true}) {
    CAPTURE(reverse);
    LayerCase c = make_case(reverse ? 11 : 12, 9, 5, 6, {9, 4, 1, 7, 4}, dt);
    std::vector<Tensor> fused = run_layer(c, reverse, lstm_layer);
    std::vector<Tensor> ref = run_layer(c, reverse, lstm_layer_reference);
    for (size_t i = 0; i < fused.size(); ++i) {
      CHECK(fused[i].dtype() == dt);
      check_close(fused[i], ref[i], rtol, atol, kNames[i]);
    }
  }
}

}  // namespace

// ---- the fused op against the reference ------------------------------------------------

TEST_CASE("lstm_layer matches the primitive-op reference in float64") {
  // Same math, different summation orders: only rounding at 1e-16 scale, grown over 9 steps.
  compare_fused_with_reference(DType::f64, 1e-10, 1e-12);
}

TEST_CASE("lstm_layer matches the primitive-op reference in float32") {
  // float32 eps is 1.2e-7; values are O(1) and gradients sum O(50) terms over 9 steps, so
  // differences of a few 1e-6 are rounding; a wrong formula shows at 1e-2.
  compare_fused_with_reference(DType::f32, 1e-4, 1e-5);
}

TEST_CASE("the fused ops pass their registered float64 gradient checks") {
  for (const char* name : {"lstm_layer", "lstm_bidirectional_layer"}) {
    const OpInfo* op = find_op(name);
    REQUIRE_MESSAGE(op != nullptr, "op ", name, " is not registered");
    Generator g(42);
    GradCases cases = op->gradcheck(g);
    CHECK(cases.size() >= 1);
    for (const GradCheckCase& gc : cases) {
      GradCheckResult r = gradcheck(gc);
      CHECK_MESSAGE(r.ok, name, " / ", gc.label, ": ", r.message);
    }
  }
}

TEST_CASE("lstm_bidirectional_layer equals the two directions run separately") {
  LayerCase f = make_case(21, 6, 3, 4, {2, 6, 5}, DType::f64);
  LayerCase b = make_case(22, 6, 3, 4, {2, 6, 5}, DType::f64);
  auto [out, h, cn] = lstm_bidirectional_layer(f.x, f.lengths, f.w, b.w);
  auto fw = lstm_layer(f.x, f.lengths, f.w.w_ih, f.w.w_hh, f.w.b_ih, f.w.b_hh, false);
  auto bw = lstm_layer(f.x, f.lengths, b.w.w_ih, b.w.w_hh, b.w.b_ih, b.w.b_hh, true);
  check_close(out, concat({fw[0], bw[0]}, 2), 0, 1e-14, "output");
  check_close(h, stack({fw[1], bw[1]}, 0), 0, 1e-14, "h_n");
  check_close(cn, stack({fw[2], bw[2]}, 0), 0, 1e-14, "c_n");
}

// ---- packed-sequence semantics ---------------------------------------------------------

TEST_CASE("padded steps give zero output and receive zero gradient") {
  for (bool reverse : {false, true}) {
    CAPTURE(reverse);
    LayerCase c = make_case(31, 8, 4, 5, {3, 8, 1, 6}, DType::f32);
    std::vector<Tensor> r = run_layer(c, reverse, lstm_layer);
    std::vector<double> out = r[0].to_vector(), dx = r[3].to_vector();
    const std::vector<int64_t> len{3, 8, 1, 6};
    int64_t nonzero_real = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t t = 0; t < 8; ++t) {
        for (int64_t k = 0; k < 5; ++k) {
          const double v = out[(n * 8 + t) * 5 + k];
          if (t >= len[n])
            CHECK(v == 0.0);
          else
            nonzero_real += v != 0.0;
        }
        for (int64_t k = 0; k < 4; ++k) {
          const double v = dx[(n * 8 + t) * 4 + k];
          if (t >= len[n])
            CHECK(v == 0.0);
          else
            nonzero_real += v != 0.0;
        }
      }
    CHECK(nonzero_real == (3 + 8 + 1 + 6) * 9);  // real steps do get values and gradients
  }
}

TEST_CASE("a sequence's result does not depend on how far it is padded") {
  // The same clips padded to T = 6 and to T + 7 = 13 with random values in the padding.
  for (bool reverse : {false, true}) {
    CAPTURE(reverse);
    LayerCase shortc = make_case(41, 6, 3, 4, {6, 2, 4}, DType::f64);
    LayerCase longc = make_case(42, 13, 3, 4, {6, 2, 4}, DType::f64);
    longc.w = shortc.w;
    longc.wh = shortc.wh;
    longc.wc = shortc.wc;
    longc.x = concat({shortc.x, longc.x.narrow(1, 6, 7)}, 1);
    longc.wo = concat({shortc.wo, longc.wo.narrow(1, 6, 7)}, 1);
    std::vector<Tensor> a = run_layer(shortc, reverse, lstm_layer);
    std::vector<Tensor> b = run_layer(longc, reverse, lstm_layer);
    check_close(b[0].narrow(1, 0, 6), a[0], 0, 1e-13, "output");
    check_close(b[0].narrow(1, 6, 7), Tensor::zeros({3, 7, 4}, DType::f64), 0, 0, "padding");
    check_close(b[3].narrow(1, 0, 6), a[3], 0, 1e-13, "grad x");
    check_close(b[3].narrow(1, 6, 7), Tensor::zeros({3, 7, 3}, DType::f64), 0, 0, "grad pad");
    for (size_t i : {1, 2, 4, 5, 6, 7}) check_close(b[i], a[i], 0, 1e-13, kNames[i]);
  }
}

TEST_CASE("h_n is the output at the last real step (forward) or at step 0 (reverse)") {
  LayerCase c = make_case(51, 7, 3, 4, {7, 1, 5, 3}, DType::f32);
  const std::vector<int64_t> len{7, 1, 5, 3};
  for (bool reverse : {false, true}) {
    auto [out, h, cn] = lstm_layer(c.x, c.lengths, c.w.w_ih, c.w.w_hh, c.w.b_ih, c.w.b_hh, reverse);
    for (int64_t n = 0; n < 4; ++n) {
      const int64_t t = reverse ? 0 : len[n] - 1;
      CHECK(max_abs_diff(out.narrow(0, n, 1).narrow(1, t, 1).reshape({4}),
                         h.narrow(0, n, 1).reshape({4})) == 0.0);
    }
    // |h| = |o tanh(c)| <= |tanh(c)|: c_n is the matching cell state, not a padded one.
    std::vector<double> hv = h.to_vector(), cv = cn.to_vector();
    for (size_t i = 0; i < hv.size(); ++i)
      CHECK(std::abs(hv[i]) <= std::abs(std::tanh(cv[i])) + 1e-7);
  }
}

// ---- argument errors -------------------------------------------------------------------

TEST_CASE("bad shapes, dtypes and lengths throw errors naming the op and the values") {
  LayerCase c = make_case(61, 5, 3, 2, {5, 3}, DType::f32);
  const LstmWeights& w = c.w;
  auto call = [&](const Tensor& x, const Tensor& len, const Tensor& w_ih, const Tensor& w_hh,
                  const Tensor& b_ih) {
    return error_of([&] { lstm_layer(x, len, w_ih, w_hh, b_ih, w.b_hh, false); });
  };
  std::string e = call(c.x.reshape({2, 15}), c.lengths, w.w_ih, w.w_hh, w.b_ih);
  CHECK(e.find("lstm_layer") != std::string::npos);
  CHECK(e.find("[2, 15]") != std::string::npos);
  e = call(c.x, c.lengths, Tensor::zeros({8, 4}), w.w_hh, w.b_ih);
  CHECK(e.find("lstm_layer: w_ih must be [8, 3]") != std::string::npos);
  CHECK(e.find("got [8, 4]") != std::string::npos);
  e = call(c.x, c.lengths, w.w_ih, Tensor::zeros({8, 3}), w.b_ih);
  CHECK(e.find("w_hh must be [4H, H]") != std::string::npos);
  e = call(c.x, c.lengths, w.w_ih, w.w_hh, Tensor::zeros({7}));
  CHECK(e.find("b_ih must be [8]") != std::string::npos);
  e = call(c.x, c.lengths, w.w_ih, w.w_hh, Tensor::zeros({8}, DType::f64));
  CHECK(e.find("b_ih is float64[8]") != std::string::npos);
  e = call(c.x, Tensor::from_vector(std::vector<int64_t>{5, 6}, {2}), w.w_ih, w.w_hh, w.b_ih);
  CHECK(e.find("lstm_layer: length 6 is outside [1, T = 5]") != std::string::npos);
  e = call(c.x, Tensor::from_vector(std::vector<int64_t>{0, 3}, {2}), w.w_ih, w.w_hh, w.b_ih);
  CHECK(e.find("length 0 is outside") != std::string::npos);
  e = call(c.x, Tensor::from_vector(std::vector<int64_t>{5, 3, 1}, {3}), w.w_ih, w.w_hh, w.b_ih);
  CHECK(e.find("lengths must be int64 [2]") != std::string::npos);
  e = call(c.x, Tensor::from_vector(std::vector<double>{5, 3}, {2}), w.w_ih, w.w_hh, w.b_ih);
  CHECK(e.find("got float64[2]") != std::string::npos);
  e = error_of([&] {
    lstm_bidirectional_layer(c.x, c.lengths, w, {w.w_ih, w.w_hh, w.b_ih, Tensor::zeros({3})});
  });
  CHECK(e.find("lstm_bidirectional_layer: b_hh must be [8]") != std::string::npos);
  e = error_of([&] {
    lstm_readout(c.x, Tensor::from_vector(std::vector<int64_t>{9, 1}, {2}), false);
  });
  CHECK(e.find("lstm_readout: length 9") != std::string::npos);
  e = error_of([&] { lstm_readout(c.x, c.lengths, true); });  // 3 features: not 2H
  CHECK(e.find("lstm_readout: output must be [N, T, 2H]") != std::string::npos);
  Generator g(1);
  e = error_of([&] { lstm(c.x, c.lengths, {w}, 2, false, 0.0, true, g); });
  CHECK(e.find("lstm: expected num_layers * directions = 2 weight sets, got 1") !=
        std::string::npos);
}

// ---- the stack, dropout, readout ---------------------------------------------------------

TEST_CASE("lstm stacks layers like the reference, with PyTorch's h_n order") {
  Generator g(71);
  nn::LSTM net(3, 4, 2, true, 0.0, g);
  net.to(DType::f64);
  Tensor x = Tensor::normal({3, 5, 3}, 0, 1, g, DType::f64);
  Tensor len = Tensor::from_vector(std::vector<int64_t>{4, 5, 2}, {3});
  LstmResult r = net.forward(x, len);
  CHECK(r.output.shape() == Shape{3, 5, 8});
  CHECK(r.h_n.shape() == Shape{4, 3, 4});
  const auto& L = net.layers();
  Tensor in = x;
  for (int64_t l = 0; l < 2; ++l) {
    auto f = lstm_layer_reference(in, len, L[2 * l].w_ih, L[2 * l].w_hh, L[2 * l].b_ih,
                                  L[2 * l].b_hh, false);
    auto b = lstm_layer_reference(in, len, L[2 * l + 1].w_ih, L[2 * l + 1].w_hh, L[2 * l + 1].b_ih,
                                  L[2 * l + 1].b_hh, true);
    for (int64_t d = 0; d < 2; ++d) {
      check_close(r.h_n.narrow(0, 2 * l + d, 1).squeeze(0), (d ? b : f)[1], 0, 1e-12, "h_n");
      check_close(r.c_n.narrow(0, 2 * l + d, 1).squeeze(0), (d ? b : f)[2], 0, 1e-12, "c_n");
    }
    in = concat({f[0], b[0]}, 2);
  }
  check_close(r.output, in, 0, 1e-12, "output");
}

TEST_CASE("dropout acts between layers in training only, reproducibly") {
  auto run = [](bool training, double p) {
    Generator g(81);
    nn::LSTM net(3, 5, 2, true, p, g);
    net.train(training);
    Generator gx(82);
    Tensor x = Tensor::normal({2, 4, 3}, 0, 1, gx);
    return net.forward(x, Tensor::from_vector(std::vector<int64_t>{4, 3}, {2}));
  };
  LstmResult plain = run(true, 0.0), eval = run(false, 0.5);
  LstmResult drop1 = run(true, 0.5), drop2 = run(true, 0.5);
  check_close(eval.output, plain.output, 0, 0, "eval ignores dropout");
  check_close(drop1.output, drop2.output, 0, 0, "same seed, same masks");
  check_close(drop1.h_n.narrow(0, 0, 2), plain.h_n.narrow(0, 0, 2), 0, 0, "layer 0 untouched");
  CHECK(max_abs_diff(drop1.output, plain.output) > 1e-3);  // layer 1 saw dropped inputs
}

TEST_CASE("lstm_readout picks forward at len-1 and backward at 0, and routes gradients there") {
  Generator g(91);
  Tensor out = Tensor::normal({3, 4, 6}, 0, 1, g, DType::f64);
  out.requires_grad_();
  Tensor len = Tensor::from_vector(std::vector<int64_t>{2, 4, 1}, {3});
  Tensor r = lstm_readout(out, len, true);
  REQUIRE(r.shape() == Shape{3, 6});
  std::vector<double> o = out.detach().to_vector(), rv = r.to_vector();
  const int64_t lens[] = {2, 4, 1};
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t k = 0; k < 3; ++k) {
      CHECK(rv[n * 6 + k] == o[(n * 4 + lens[n] - 1) * 6 + k]);
      CHECK(rv[n * 6 + 3 + k] == o[(n * 4 + 0) * 6 + 3 + k]);
    }
  sum(r * 2.0).backward();
  double total = 0;
  for (double v : out.grad().to_vector()) total += v;
  CHECK(total == doctest::Approx(2.0 * 18));
  Tensor uni = lstm_readout(out.detach(), len, false);  // unidirectional: all 6 features at len-1
  CHECK(uni.shape() == Shape{3, 6});
  CHECK(uni.to_vector()[6 * 1 + 5] == o[(1 * 4 + 3) * 6 + 5]);
}

TEST_CASE("float64 gradient check: 2-layer bidirectional nn::LSTM + readout, variable lengths") {
  // The whole study path (layer 0 -> layer 1 -> readout) against central differences, with
  // respect to x and all 16 parameters. Lengths {5, 2, 4}: padded x must get zero gradient
  // (the numeric one is exactly 0 there), and the readout picks different steps per sample.
  Generator g(91);
  nn::LSTM net(3, 3, 2, true, 0.0, g);
  net.to(DType::f64);
  Tensor len = Tensor::from_vector(std::vector<int64_t>{5, 2, 4}, {3});
  GradCheckCase gc{"nn::LSTM(3, 3, 2 layers, bidirectional) + lstm_readout", {}, nullptr};
  gc.inputs.push_back(Tensor::normal({3, 5, 3}, 0, 1, g, DType::f64).requires_grad_());
  for (const Tensor& p : net.parameters()) gc.inputs.push_back(p);  // perturbed in place
  REQUIRE(gc.inputs.size() == 17);
  gc.fn = [&](const TensorList& in) {
    LstmResult r = net.forward(in[0], len);
    return concat({flatten(lstm_readout(r.output, len, true)), flatten(r.c_n)}, 0);
  };
  GradCheckResult res = gradcheck(gc);
  CHECK_MESSAGE(res.ok, res.message);
  CHECK(res.max_error < 1e-7);
}

// ---- nn::LSTM and the PyTorch fixtures ---------------------------------------------------

TEST_CASE("nn::LSTM has PyTorch's parameter names, order, shapes and init range") {
  Generator g(3);
  nn::LSTM net(12, 8, 2, true, 0.2, g);
  const std::vector<std::string> want = {
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",         "bias_hh_l0",
      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
      "weight_ih_l1",         "weight_hh_l1",         "bias_ih_l1",         "bias_hh_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"};
  nn::NamedTensors p = net.named_parameters();
  REQUIRE(p.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(p[i].first == want[i]);
    CHECK(p[i].second.requires_grad());
    for (double v : p[i].second.to_vector()) CHECK(std::abs(v) <= 1 / std::sqrt(8.0));
  }
  CHECK(p[8].second.shape() == Shape{32, 16});  // layer 1 reads both directions
  CHECK(net.parameter_count() == 2 * (32 * 12 + 32 * 8 + 64) + 2 * (32 * 16 + 32 * 8 + 64));
}

namespace {

// Loads the fixture's initial parameters into nn::LSTM + Linear, runs readout -> fc -> loss
// and checks every forward value and parameter gradient against PyTorch, then repeats the
// fixture script's 3 Adam steps (torch.optim.Adam(lr 1e-2, betas (0.9, 0.999), eps 1e-8,
// weight_decay 1e-4), dropout 0; each step: zero_grad, forward, loss, backward, step) and
// checks each step's loss and every parameter after each update.
void check_fixture(const std::string& dir, int64_t I, int64_t H, int64_t L, int64_t classes,
                   bool cross_entropy_loss, DType dt, double rtol, double atol, double step_rtol,
                   double step_atol) {
  using test::fixture;
  Generator g(0);
  nn::LSTM net(I, H, L, true, 0.0, g);
  nn::Linear fc(2 * H, classes, g);
  std::map<std::string, Tensor> lstm_state, fc_state;
  for (auto& [name, t] : net.named_parameters())
    lstm_state[name] = fixture(dir, "params0/lstm." + name);
  for (const char* name : {"weight", "bias"})
    fc_state[name] = fixture(dir, std::string("params0/fc.") + name);
  net.load_state(lstm_state);  // strict: names and shapes must be PyTorch's
  fc.load_state(fc_state);
  net.to(dt);
  fc.to(dt);
  Tensor x = fixture(dir, "x").to(dt), len = fixture(dir, "lengths");
  LstmResult r = net.forward(x, len);
  check_close(r.output, fixture(dir, "lstm_out"), rtol, atol, "lstm_out");
  check_close(r.h_n, fixture(dir, "h_n"), rtol, atol, "h_n");
  check_close(r.c_n, fixture(dir, "c_n"), rtol, atol, "c_n");
  Tensor readout = lstm_readout(r.output, len, true);
  check_close(readout, fixture(dir, "readout"), rtol, atol, "readout");
  Tensor logits = fc.forward(readout);
  check_close(logits, fixture(dir, "logits"), rtol, atol, "logits");
  Tensor targets = fixture(dir, "targets");
  if (!cross_entropy_loss) targets = targets.to(dt);
  auto loss_of = [&](const Tensor& out) {
    return cross_entropy_loss ? cross_entropy(out, targets) : smooth_l1_loss(out, targets);
  };
  Tensor loss = loss_of(logits);
  check_close(loss, fixture(dir, "loss"), rtol, atol, "loss");
  loss.backward();
  for (auto& [name, t] : net.named_parameters())
    check_close(t.grad(), fixture(dir, "grads/lstm." + name), rtol, atol, "grad " + name);
  for (auto& [name, t] : fc.named_parameters())
    check_close(t.grad(), fixture(dir, "grads/fc." + name), rtol, atol, "grad fc." + name);

  // ---- 3 Adam steps, from params0 again (the forward above changed nothing) ----
  std::vector<Tensor> params = net.parameters();
  for (const Tensor& t : fc.parameters()) params.push_back(t);
  optim::Adam adam(params,
                   {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-4});
  for (int step = 1; step <= 3; ++step) {
    CAPTURE(step);
    const std::string sd = "steps/" + std::to_string(step) + "/";
    adam.zero_grad();
    Tensor step_loss = loss_of(fc.forward(lstm_readout(net.forward(x, len).output, len, true)));
    check_close(step_loss, fixture(dir, sd + "loss"), step_rtol, step_atol, "step loss");
    step_loss.backward();
    adam.step();
    for (auto& [name, t] : net.named_parameters())
      check_close(t, fixture(dir, sd + "lstm." + name), step_rtol, step_atol,
                  "parameter lstm." + name);
    for (auto& [name, t] : fc.named_parameters())
      check_close(t, fixture(dir, sd + "fc." + name), step_rtol, step_atol, "parameter fc." + name);
  }
}

}  // namespace

// Forward and gradients: PyTorch's own float32 error is <= 1.1e-7 (manifest float64_check,
// groups forward/grads); ours is of the same order, so rtol 1e-5 / atol 1e-6 leaves a 10x
// margin. Adam steps: PyTorch's error grows to 5.6e-7 (steps/2 of bilstm_packed) and ours
// measures 6.0e-7 (the step losses): rtol 1e-5 / atol 5e-6 is ~10x that, while a wrong
// update shows: beta2 0.99 instead of 0.999 is off by 1.8e-5 after three steps, a missing
// bias correction or a missed step by ~1e-2 (each step moves a parameter by about lr).
// float64 must land as close.
constexpr double kRtol = 1e-5, kAtol = 1e-6, kStepRtol = 1e-5, kStepAtol = 5e-6;

TEST_CASE("PyTorch fixture bilstm_packed: 2-layer BiLSTM, lengths [7, 5, 3], cross-entropy") {
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dt));
    check_fixture("bilstm_packed", 12, 8, 2, 4, true, dt, kRtol, kAtol, kStepRtol, kStepAtol);
  }
}

TEST_CASE("PyTorch fixture bilstm_regression_l1: 1-layer BiLSTM, unsorted lengths, SmoothL1") {
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dt));
    check_fixture("bilstm_regression_l1", 12, 6, 1, 1, false, dt, kRtol, kAtol, kStepRtol,
                  kStepAtol);
  }
}

TEST_CASE("PyTorch fixture bilstm_regression_l1: MSE, L1, SmoothL1 and their gradients") {
  // The fixture's step-0 prediction against targets = prediction + [0.5, -1.75], so SmoothL1
  // takes its quadratic branch for sample 0 and its linear branch for sample 1. Values are
  // O(1) and exact to float32 rounding: rtol 1e-6 / atol 1e-7.
  using test::fixture;
  const std::string dir = "bilstm_regression_l1";
  using LossFn = Tensor (*)(const Tensor&, const Tensor&);
  const std::pair<const char*, LossFn> losses[] = {
      {"mse", [](const Tensor& p, const Tensor& t) { return mse_loss(p, t); }},
      {"l1", [](const Tensor& p, const Tensor& t) { return l1_loss(p, t); }},
      {"smoothl1", [](const Tensor& p, const Tensor& t) { return smooth_l1_loss(p, t); }}};
  for (DType dt : {DType::f32, DType::f64})
    for (const auto& [name, loss_fn] : losses) {
      CAPTURE(dtype_name(dt));
      CAPTURE(name);
      Tensor pred = fixture(dir, "logits").to(dt).requires_grad_();
      Tensor loss = loss_fn(pred, fixture(dir, "targets").to(dt));
      check_close(loss, fixture(dir, std::string("loss_") + name), 1e-6, 1e-7, "loss");
      loss.backward();
      check_close(pred.grad(), fixture(dir, std::string("dpred_") + name), 1e-6, 1e-7, "dpred");
    }
  check_close(fixture(dir, "loss"), fixture(dir, "loss_smoothl1"), 0, 0,
              "trained loss is SmoothL1");
}
