// The LSTM kernels (kernels/lstm.h), persistent and step-wise, forward and backward,
// against the double-precision CPU reference, through the emulator under several schedules
// (once on a GPU): small shapes (N = 3, T = 5..7, H = 8..24), unsorted lengths including 1
// and T, one or both directions, hidden units per block that do not divide H. Padded steps
// must be exactly zero in output and grad_gates; gates and cells are compared at real steps
// (the only ones the kernels define). The plan's choice at the study's batch 32 (hidden 100,
// 200, 600), and the step-wise kernels at hidden 600 with T = 2.
// Tolerances: float32 kernels against a float64 reference on O(1) values. The forward sums
// H <= 24 products per gate and compounds over <= 7 steps through contracting sigmoid/tanh
// (float rounding ~1e-7 per op): 2e-6 absolute + 1e-5 relative bounds it with room. The
// backward sums up to 4H = 96 products per step and dW_hh up to N*T = 21 rows of them: 1e-5
// absolute + 1e-4 relative.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/lstm.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

constexpr double kForwardAtol = 2e-6, kForwardRtol = 1e-5;
constexpr double kBackwardAtol = 1e-5, kBackwardRtol = 1e-4;

struct Case {
  LstmDims dims;
  std::vector<int64_t> lengths;
  bool reverse[2] = {false, true};
  int units = 0;  // persistent kernel: hidden units per block (0: chosen)
};

std::string describe(const Case& c) {
  std::string s = "N " + std::to_string(c.dims.batch) + " T " + std::to_string(c.dims.steps) +
                  " H " + std::to_string(c.dims.hidden) + " D " +
                  std::to_string(c.dims.directions) + " reverse " + std::to_string(c.reverse[0]) +
                  std::to_string(c.reverse[1]) + " units " + std::to_string(c.units) + " lengths";
  for (int64_t l : c.lengths) s += " " + std::to_string(l);
  return s;
}

std::size_t sz(int64_t n) { return static_cast<std::size_t>(n); }

// Inputs of one case, seeded; W_hh large enough that the recurrence matters (|rec| ~ 1).
struct Inputs {
  std::vector<float> gates_x, w_hh[2], grad_output, grad_h_n, grad_c_n;
  explicit Inputs(const Case& c, uint64_t seed) {
    const int64_t N = c.dims.batch, T = c.dims.steps, H = c.dims.hidden, D = c.dims.directions;
    gates_x = random_floats(sz(N * T * D * 4 * H), seed, -1.5f, 1.5f);
    for (int d = 0; d < 2; ++d) w_hh[d] = random_floats(sz(4 * H * H), seed + 1 + d, -0.6f, 0.6f);
    grad_output = random_floats(sz(N * T * D * H), seed + 3, -1.0f, 1.0f);
    grad_h_n = random_floats(sz(D * N * H), seed + 4, -1.0f, 1.0f);
    grad_c_n = random_floats(sz(D * N * H), seed + 5, -1.0f, 1.0f);
  }
};

struct ForwardResult {
  std::vector<float> output, h_n, c_n, cells, gates;
};

ForwardResult forward_reference(const Case& c, const Inputs& in) {
  const int64_t N = c.dims.batch, T = c.dims.steps, H = c.dims.hidden, D = c.dims.directions;
  ForwardResult r{std::vector<float>(sz(N * T * D * H)), std::vector<float>(sz(D * N * H)),
                  std::vector<float>(sz(D * N * H)), std::vector<float>(sz(N * T * D * H)),
                  std::vector<float>(sz(N * T * D * 4 * H))};
  LstmForwardParams p;
  p.dims = c.dims;
  p.lengths = c.lengths.data();
  p.gates_x = in.gates_x.data();
  p.w_hh[0] = in.w_hh[0].data();
  p.w_hh[1] = in.w_hh[1].data();
  p.reverse[0] = c.reverse[0];
  p.reverse[1] = c.reverse[1];
  p.output = r.output.data();
  p.h_n = r.h_n.data();
  p.c_n = r.c_n.data();
  p.cells = r.cells.data();
  p.gates = r.gates.data();
  lstm_forward_reference(p);
  return r;
}

// Keeps only the entries of a [N, T, width] array at real steps (t < len).
std::vector<float> real_steps(const std::vector<float>& v, const Case& c) {
  const int64_t T = c.dims.steps, width = static_cast<int64_t>(v.size()) / (c.dims.batch * T);
  std::vector<float> out;
  for (int64_t n = 0; n < c.dims.batch; ++n)
    for (int64_t t = 0; t < c.lengths[sz(n)]; ++t)
      for (int64_t k = 0; k < width; ++k) out.push_back(v[sz((n * T + t) * width + k)]);
  return out;
}

void check_forward(const Case& c, LstmAlgo algo, bool in_place) {
  const Inputs in(c, 11);
  const ForwardResult ref = forward_reference(c, in);
  const int64_t N = c.dims.batch, T = c.dims.steps, H = c.dims.hidden, D = c.dims.directions;
  for_each_schedule([&] {
    DeviceBuffer<int64_t> lengths(c.lengths);
    DeviceBuffer<float> gates_x(in.gates_x), w0(in.w_hh[0]), w1(in.w_hh[1]);
    DeviceBuffer<float> output(random_floats(sz(N * T * D * H), 99, -9.0f, 9.0f));  // garbage
    DeviceBuffer<float> h_n(sz(D * N * H)), c_n(sz(D * N * H)), cells(sz(N * T * D * H));
    DeviceBuffer<float> gates(sz(N * T * D * 4 * H));
    LstmForwardParams p;
    p.dims = c.dims;
    p.lengths = lengths.data();
    p.gates_x = gates_x.data();
    p.w_hh[0] = w0.data();
    p.w_hh[1] = w1.data();
    p.reverse[0] = c.reverse[0];
    p.reverse[1] = c.reverse[1];
    p.output = output.data();
    p.h_n = h_n.data();
    p.c_n = c_n.data();
    p.cells = cells.data();
    p.gates = in_place ? gates_x.data() : gates.data();
    p.algo = algo;
    p.units_per_block = c.units;
    lstm_forward(p);
    check_close(output.to_host(), ref.output, kForwardAtol, kForwardRtol);  // padded: 0 == 0
    check_close(h_n.to_host(), ref.h_n, kForwardAtol, kForwardRtol);
    check_close(c_n.to_host(), ref.c_n, kForwardAtol, kForwardRtol);
    check_close(real_steps(cells.to_host(), c), real_steps(ref.cells, c), kForwardAtol,
                kForwardRtol);
    check_close(real_steps((in_place ? gates_x : gates).to_host(), c), real_steps(ref.gates, c),
                kForwardAtol, kForwardRtol);
  });
}

struct BackwardResult {
  std::vector<float> grad_gates, grad_w_hh[2], grad_bias[2], grad_h0, grad_c0;
};

BackwardResult make_backward_result(const Case& c) {
  const int64_t N = c.dims.batch, T = c.dims.steps, H = c.dims.hidden, D = c.dims.directions;
  return BackwardResult{std::vector<float>(sz(N * T * D * 4 * H)),
                        {std::vector<float>(sz(4 * H * H)), std::vector<float>(sz(4 * H * H))},
                        {std::vector<float>(sz(4 * H)), std::vector<float>(sz(4 * H))},
                        std::vector<float>(sz(D * N * H)),
                        std::vector<float>(sz(D * N * H))};
}

// Backward parameters over `fwd` (the reference forward, host or device copies alike).
template <class Buf>
LstmBackwardParams backward_params(const Case& c, const int64_t* lengths, Buf& w0, Buf& w1,
                                   Buf& output, Buf& gates, Buf& cells, Buf& grad_output,
                                   Buf& grad_h_n, Buf& grad_c_n) {
  LstmBackwardParams p;
  p.dims = c.dims;
  p.lengths = lengths;
  p.w_hh[0] = w0.data();
  p.w_hh[1] = w1.data();
  p.reverse[0] = c.reverse[0];
  p.reverse[1] = c.reverse[1];
  p.output = output.data();
  p.gates = gates.data();
  p.cells = cells.data();
  p.grad_output = grad_output.data();
  p.grad_h_n = grad_h_n.data();
  p.grad_c_n = grad_c_n.data();
  p.units_per_block = c.units;
  return p;
}

void check_backward(const Case& c, LstmAlgo algo, bool in_place) {
  Inputs in(c, 21);
  ForwardResult fwd = forward_reference(c, in);
  BackwardResult ref = make_backward_result(c);
  {
    LstmBackwardParams p =
        backward_params(c, c.lengths.data(), in.w_hh[0], in.w_hh[1], fwd.output, fwd.gates,
                        fwd.cells, in.grad_output, in.grad_h_n, in.grad_c_n);
    p.grad_gates = ref.grad_gates.data();
    p.grad_h0 = ref.grad_h0.data();
    p.grad_c0 = ref.grad_c0.data();
    for (int d = 0; d < 2; ++d) {
      p.grad_w_hh[d] = ref.grad_w_hh[d].data();
      p.grad_bias[d] = ref.grad_bias[d].data();
    }
    lstm_backward_reference(p);
  }
  const int64_t D = c.dims.directions;
  for_each_schedule([&] {
    DeviceBuffer<int64_t> lengths(c.lengths);
    DeviceBuffer<float> w0(in.w_hh[0]), w1(in.w_hh[1]), output(fwd.output), gates(fwd.gates),
        cells(fwd.cells), grad_output(in.grad_output), grad_h_n(in.grad_h_n), grad_c_n(in.grad_c_n);
    BackwardResult init = make_backward_result(c);
    DeviceBuffer<float> grad_gates(random_floats(init.grad_gates.size(), 98, -9.0f, 9.0f));
    DeviceBuffer<float> gw0(init.grad_w_hh[0]), gw1(init.grad_w_hh[1]), gb0(init.grad_bias[0]),
        gb1(init.grad_bias[1]), gh0(init.grad_h0), gc0(init.grad_c0);
    DeviceBuffer<unsigned char> workspace(lstm_backward_workspace_bytes(c.dims));
    LstmBackwardParams p = backward_params(c, lengths.data(), w0, w1, output, gates, cells,
                                           grad_output, grad_h_n, grad_c_n);
    p.grad_gates = in_place ? gates.data() : grad_gates.data();
    p.grad_w_hh[0] = gw0.data();
    p.grad_bias[0] = gb0.data();
    if (D == 2) {
      p.grad_w_hh[1] = gw1.data();
      p.grad_bias[1] = gb1.data();
    }
    p.grad_h0 = gh0.data();
    p.grad_c0 = gc0.data();
    p.workspace = workspace.data();
    p.algo = algo;
    lstm_backward(p);
    check_close((in_place ? gates : grad_gates).to_host(), ref.grad_gates, kBackwardAtol,
                kBackwardRtol);  // including the zeros at padded steps
    for (int64_t d = 0; d < D; ++d) {
      CAPTURE(d);
      check_close((d == 0 ? gw0 : gw1).to_host(), ref.grad_w_hh[d], kBackwardAtol, kBackwardRtol);
      check_close((d == 0 ? gb0 : gb1).to_host(), ref.grad_bias[d], kBackwardAtol, kBackwardRtol);
    }
    check_close(gh0.to_host(), ref.grad_h0, kBackwardAtol, kBackwardRtol);
    check_close(gc0.to_host(), ref.grad_c0, kBackwardAtol, kBackwardRtol);
  });
}

// The shapes every algorithm runs: both directions, forward only, reverse only (D = 1 with
// reverse[0]), hidden sizes that do not divide into the persistent kernel's slices.
std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({{3, 5, 8, 2}, {5, 1, 3}, {false, true}, 0});
  out.push_back({{3, 7, 24, 2}, {2, 7, 1}, {false, true}, 5});
  out.push_back({{3, 6, 16, 1}, {4, 6, 1}, {false, true}, 3});
  out.push_back({{3, 6, 12, 1}, {1, 3, 6}, {true, false}, 0});
  return out;
}

}  // namespace

TEST_CASE("lstm_forward matches the reference: persistent and step-wise, both directions") {
  for (const Case& c : cases()) {
    for (LstmAlgo algo : {LstmAlgo::persistent, LstmAlgo::stepwise}) {
      const std::string what = describe(c) + " algo " + lstm_algo_name(algo);
      INFO(what);
      check_forward(c, algo, false);
    }
  }
}

TEST_CASE("lstm_backward matches the reference: persistent and step-wise, both directions") {
  for (const Case& c : cases()) {
    for (LstmAlgo algo : {LstmAlgo::persistent, LstmAlgo::stepwise}) {
      const std::string what = describe(c) + " algo " + lstm_algo_name(algo);
      INFO(what);
      check_backward(c, algo, false);
    }
  }
}

TEST_CASE("lstm gates may be computed in place over gates_x, grad_gates over gates") {
  const Case c{{3, 5, 8, 2}, {4, 5, 2}, {false, true}, 0};
  for (LstmAlgo algo : {LstmAlgo::persistent, LstmAlgo::stepwise}) {
    INFO(lstm_algo_name(algo));
    check_forward(c, algo, true);
    check_backward(c, algo, true);
  }
}

TEST_CASE("lstm persistent plan: the study's sizes fit, oversized ones fall back") {
  // Batch 32, hidden 100, both directions: on chip in the emulator's 4-SM model and on a GPU.
  const LstmDims study{32, 40, 100, 2};
  for (bool backward : {false, true}) {
    const LstmPersistentPlan plan = lstm_persistent_plan(study, backward);
    CAPTURE(plan.why_not);
    CHECK(plan.fits);
    CHECK(plan.blocks == 2 * ((100 + plan.units_per_block - 1) / plan.units_per_block));
    CHECK(plan.threads % 32 == 0);
    CHECK(lstm_choose_algo(study, backward) == LstmAlgo::persistent);
  }
  // 256 sequences of hidden 1024: one unit's W_hh rows plus the step state exceed any
  // device's shared memory.
  const LstmDims huge{256, 4, 1024, 2};
  const LstmPersistentPlan plan = lstm_persistent_plan(huge, false);
  CHECK_FALSE(plan.fits);
  CHECK(plan.why_not.find("bytes of shared memory") != std::string::npos);
  CHECK(lstm_choose_algo(huge, false) == LstmAlgo::stepwise);
}

TEST_CASE("lstm plan at the study's batch 32: hidden 100 and 200 persistent, 600 step-wise") {
  // Hidden 600: the backward's step state of 32 sequences (32 x 4H floats) alone is ~300 KB,
  // beyond any device's shared memory, so the study's largest grid point trains with the
  // step-wise kernels. Its forward needs ~170 KiB a block for 10 hidden units (their W_hh
  // rows and the step's h) over 120 blocks: an H100 or H200 (132 SMs, 227 KiB a block;
  // MELGRAD_EMU_DEVICE=h100) holds that co-resident and runs it persistent; the emulator's
  // default 4 SMs and an A100 (163 KiB) do not.
  const bool forward_600_fits =
      device_sm_count() >= 120 && device_max_dynamic_smem() >= std::size_t{227} * 1024;
  for (bool backward : {false, true}) {
    CAPTURE(backward);
    for (int64_t hidden : {100, 200}) {
      CAPTURE(hidden);
      const LstmDims dims{32, 40, hidden, 2};
      const LstmPersistentPlan plan = lstm_persistent_plan(dims, backward);
      CAPTURE(plan.why_not);
      if (hidden == 200 && device_sm_count() < 100) {
        // The emulator's 4 SMs leave 100 units per block at hidden 200: their W_hh slice does
        // not fit. A data-centre GPU (H100: 132 SMs) spreads them over enough blocks.
        CHECK_FALSE(plan.fits);
        CHECK(lstm_choose_algo(dims, backward) == LstmAlgo::stepwise);
        continue;
      }
      CHECK(plan.fits);
      CHECK(lstm_choose_algo(dims, backward) == LstmAlgo::persistent);
    }
    const LstmDims large{32, 40, 600, 2};
    const LstmPersistentPlan plan = lstm_persistent_plan(large, backward);
    CAPTURE(plan.why_not);
    if (!backward && forward_600_fits) {
      CHECK(plan.fits);
      CHECK(lstm_choose_algo(large, backward) == LstmAlgo::persistent);
      continue;
    }
    CHECK_FALSE(plan.fits);
    CHECK(plan.why_not.find("bytes of shared memory") != std::string::npos);
    CHECK(lstm_choose_algo(large, backward) == LstmAlgo::stepwise);
  }
}

TEST_CASE("lstm step-wise fallback at the study's hidden 600 matches the reference (T = 2)") {
  // Two sequences (lengths 2 and 1), one direction (both take ~11 s in the emulator): the
  // step-wise product's tiles cover the whole 2400 x 600 W_hh.
  const Case c{{2, 2, 600, 1}, {2, 1}, {false, true}, 0};
  check_forward(c, LstmAlgo::stepwise, false);
  check_backward(c, LstmAlgo::stepwise, false);
}

TEST_CASE("lstm launchers validate their parameters") {
  DeviceBuffer<float> buf(64);
  DeviceBuffer<int64_t> lengths(std::vector<int64_t>{1});
  LstmForwardParams p;
  p.dims = {1, 1, 2, 3};
  CHECK_THROWS_WITH_AS(lstm_forward(p), "lstm_forward: dims.directions must be 1 or 2 (got 3)",
                       std::invalid_argument);
  p.dims = {1, 1, 2, 2};
  p.lengths = lengths.data();
  p.gates_x = p.w_hh[0] = buf.data();
  p.output = p.h_n = p.c_n = p.cells = buf.data();
  CHECK_THROWS_WITH_AS(lstm_forward(p), "lstm_forward: w_hh[1] is null", std::invalid_argument);
  p.dims = {256, 1, 1024, 1};
  p.algo = LstmAlgo::persistent;
  CHECK_THROWS_WITH_AS(lstm_forward(p),
                       doctest::Contains("the persistent kernel cannot run N = 256, H = 1024"),
                       std::invalid_argument);
  LstmBackwardParams b;
  b.dims = {1, 1, 0, 1};
  CHECK_THROWS_WITH_AS(lstm_backward(b), "lstm_backward: dims.hidden must be >= 1 (got 0)",
                       std::invalid_argument);
  p.dims = {0, 5, 8, 2};  // empty batch: nothing to do, nothing checked further
  p.output = nullptr;
  lstm_forward(p);
}

#if MELGRAD_KERNELS_EMU
// The launchers pack their pointers into ForwardArgs / BackwardArgs (kernel argument
// structs), where the emulator's launch check does not look; on a GPU a host pointer
// there faults. Every field, optional ones included, is checked by name.
TEST_CASE("lstm launchers refuse host pointers bound for their argument structs") {
  DeviceBuffer<float> buf(256);
  DeviceBuffer<int64_t> lengths(std::vector<int64_t>{2, 1});
  std::vector<float> host(256);
  std::vector<int64_t> host_lengths{2, 1};
  LstmForwardParams p;
  p.dims = {2, 2, 2, 1};
  p.lengths = lengths.data();
  p.gates_x = p.w_hh[0] = buf.data();
  p.output = p.h_n = p.c_n = p.cells = buf.data();
  p.gates = host.data();  // optional, but a host pointer
  CHECK_THROWS_WITH_AS(lstm_forward(p), doctest::Contains("lstm_forward: gates (0x"),
                       std::invalid_argument);
  p.gates = buf.data();
  p.lengths = host_lengths.data();
  CHECK_THROWS_WITH_AS(lstm_forward(p), doctest::Contains("lstm_forward: lengths (0x"),
                       std::invalid_argument);
  p.lengths = lengths.data();
  lstm_forward(p);  // all device memory: runs

  LstmBackwardParams b;
  b.dims = p.dims;
  b.lengths = lengths.data();
  b.w_hh[0] = b.output = b.gates = b.cells = b.grad_output = buf.data();
  b.grad_gates = buf.data();
  b.workspace = buf.data();
  b.grad_c_n = host.data();
  CHECK_THROWS_WITH_AS(lstm_backward(b), doctest::Contains("lstm_backward: grad_c_n (0x"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(lstm_backward(b), doctest::Contains("is not device memory"),
                       std::invalid_argument);
}
#endif
