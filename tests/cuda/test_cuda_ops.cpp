// Ops on cuda against the CPU beyond the registry's small gradient-check cases: the ops
// without gradients (comparisons, argmax), and the kernels' other paths at larger shapes:
// softmax rows longer than a warp's limit (block-per-row kernels) and along a middle dim,
// reductions over leading and mixed dims (in place over a middle dim or through a copy),
// GEMM across several tiles with transposed and broadcast operands, where with an int64
// condition, indexing along a middle dim, and concat of strided views. Same tolerance as
// the registry harness (1e-5 relative and absolute; float32 results summed in different
// orders), except comparisons, argmax and copies, which must match exactly.
// Expected per build: the same for the emulator and a GPU.
#include <doctest/doctest.h>

#include <vector>

#include "engine/ops/ops.h"

using namespace melgrad;

namespace {

const Device kCuda = Device::cuda(0);

void check_close(const Tensor& cuda_result, const Tensor& cpu_result, double tol = 1e-5) {
  CHECK(cuda_result.device() == kCuda);
  const Tensor got = cuda_result.to(Device::cpu());
  CHECK_MESSAGE(
      allclose(got, cpu_result, tol, tol),
      "max |cuda - cpu| = " << max_abs_diff(got, cpu_result) << " for " << cpu_result.str());
}

void check_exact(const Tensor& cuda_result, const Tensor& cpu_result) {
  CHECK(cuda_result.device() == kCuda);
  CHECK(cuda_result.dtype() == cpu_result.dtype());
  CHECK(cuda_result.to_vector() == cpu_result.to_vector());
}

}  // namespace

TEST_CASE("comparisons and argmax match the CPU exactly, ties included") {
  Generator gen(31);
  // Five distinct values (-1 to 1 in steps of 0.5): many ties, and equal elements across
  // the operands.
  std::vector<float> values(63);
  for (float& v : values) v = float(int64_t(gen.below(5)) - 2) * 0.5f;
  const Tensor ar = Tensor::from_vector(values, {7, 9});
  const Tensor b = slice(ar, 0, 0, 1);  // [1, 9], broadcast over rows
  for (auto* f : {&eq, &gt, &ge, &lt, &le}) check_exact(f(ar.to(kCuda), b.to(kCuda)), f(ar, b));
  for (int64_t dim : {0, 1}) {
    CAPTURE(dim);
    check_exact(argmax(ar.to(kCuda), dim), argmax(ar, dim));
    check_exact(argmax(ar.to(kCuda).transpose(0, 1), dim, true),
                argmax(ar.transpose(0, 1), dim, true));
  }
}

TEST_CASE("softmax: long rows (block kernels) and a middle dim, forward and backward") {
  Generator gen(32);
  for (auto shape_dim : {std::pair<Shape, int64_t>{{3, 2000}, 1}, {{4, 6, 5}, 1}, {{5, 3, 7}, 0}}) {
    const auto& [shape, dim] = shape_dim;
    CAPTURE(shape_str(shape));
    const Tensor x = Tensor::uniform(shape, -3, 3, gen), w = Tensor::uniform(shape, -1, 1, gen);
    for (bool log : {false, true}) {
      Tensor xc = x.detach().requires_grad_(), xg = x.to(kCuda).requires_grad_();
      const Tensor yc = log ? log_softmax(xc, dim) : softmax(xc, dim);
      const Tensor yg = log ? log_softmax(xg, dim) : softmax(xg, dim);
      check_close(yg, yc);
      sum(yc * w).backward();
      sum(yg * w.to(kCuda)).backward();
      check_close(xg.grad(), xc.grad());
    }
  }
}

TEST_CASE("reductions over leading, trailing and mixed dims of a large tensor") {
  Generator gen(33);
  const Tensor x = Tensor::uniform({6, 50, 40}, -1, 1, gen);
  const Tensor xg = x.to(kCuda);
  for (const std::vector<int64_t>& dims :
       {std::vector<int64_t>{0}, {1}, {2}, {0, 2}, {1, 2}, {0, 1, 2}}) {
    CAPTURE(dims.size());
    check_close(sum(xg, dims, true), sum(x, dims, true), 1e-4);  // sums of up to 12000 terms
    check_close(mean(xg, dims), mean(x, dims));
    check_close(max(xg, dims), max(x, dims), 0);
    check_close(min(xg.transpose(0, 2), dims, true), min(x.transpose(0, 2), dims, true), 0);
  }
}

TEST_CASE("reductions over dim 0 and a middle dim of contiguous inputs (no transpose copy)") {
  // Contiguous inputs reduced over one run of dims run reduce_middle_dim in place: dim 0 of
  // a bias gradient's [32, 300], dim 1 of [4, 37, 45] (partial 32-column tiles), dims
  // {0, 2} of [5, 1, 33, 7] (the size-1 dim between them keeps them one run) and dims
  // {1, 2} of [3, 40, 2, 9]. argmax over the same dims checks the indices' layout.
  Generator gen(34);
  for (auto shape_dims : {std::pair<Shape, std::vector<int64_t>>{{32, 300}, {0}},
                          {{4, 37, 45}, {1}},
                          {{5, 1, 33, 7}, {0, 2}},
                          {{3, 40, 2, 9}, {1, 2}}}) {
    const auto& [shape, dims] = shape_dims;
    CAPTURE(shape_str(shape));
    const Tensor x = Tensor::uniform(shape, -2, 2, gen), xg = x.to(kCuda);
    for (bool keepdim : {false, true}) {
      CAPTURE(keepdim);
      check_close(sum(xg, dims, keepdim), sum(x, dims, keepdim));
      check_close(mean(xg, dims, keepdim), mean(x, dims, keepdim));
      check_close(max(xg, dims, keepdim), max(x, dims, keepdim), 0);
      check_close(min(xg, dims, keepdim), min(x, dims, keepdim), 0);
      check_exact(argmax(xg, dims[0], keepdim), argmax(x, dims[0], keepdim));
    }
  }
}

TEST_CASE("matmul across several GEMM tiles: transposed, batched and broadcast operands") {
  Generator gen(34);
  const Tensor a = Tensor::uniform({3, 150, 70}, -1, 1, gen);
  const Tensor b = Tensor::uniform({70, 130}, -1, 1, gen);
  const Tensor bt = Tensor::uniform({130, 70}, -1, 1, gen);
  // Sums of 70 products of O(1) terms: float32 error ~ 70 * 6e-8 relative to sum |terms|.
  check_close(matmul(a.to(kCuda), b.to(kCuda)), matmul(a, b), 2e-5);
  check_close(matmul(a.to(kCuda), bt.to(kCuda).transpose(0, 1)), matmul(a, bt.transpose(0, 1)),
              2e-5);
  check_close(matmul(a.to(kCuda).transpose(1, 2), a.to(kCuda)), matmul(a.transpose(1, 2), a), 1e-4);
  const Tensor v = Tensor::uniform({70, 1}, -1, 1, gen);
  check_close(matmul(a.to(kCuda), v.to(kCuda)), matmul(a, v), 2e-5);
  const Tensor empty_k = Tensor::ones({4, 0});
  check_close(matmul(empty_k.to(kCuda), Tensor::ones({0, 3}).to(kCuda)),
              matmul(empty_k, Tensor::ones({0, 3})), 0);
}

TEST_CASE("where with an int64 condition, indexing along a middle dim, concat of views") {
  Generator gen(35);
  const Tensor a = Tensor::uniform({4, 5, 6}, -1, 1, gen), b = Tensor::uniform({5, 1}, -1, 1, gen);
  const Tensor cond = Tensor::from_vector(std::vector<int64_t>{1, 0, 0, 2, 0, 1}, {6});
  check_exact(where(cond.to(kCuda), a.to(kCuda), b.to(kCuda)), where(cond, a, b));

  const Tensor idx = Tensor::from_vector(std::vector<int64_t>{4, 0, 4, 2}, {4});
  check_exact(index_select(a.to(kCuda), 1, idx.to(kCuda)), index_select(a, 1, idx));
  const Tensor gidx = argmax(a, 1, true);  // [4, 1, 6]
  check_exact(gather(a.to(kCuda), 1, gidx.to(kCuda)), gather(a, 1, gidx));

  // Gradients of both indexing ops accumulate repeated indices in the CPU's order: exact.
  Tensor ac = a.detach().requires_grad_(), ag = a.to(kCuda).requires_grad_();
  sum(index_select(ac, 1, idx) * 3.0).backward();
  sum(index_select(ag, 1, idx.to(kCuda)) * 3.0).backward();
  check_exact(ag.grad(), ac.grad());

  const Tensor parts = concat({a.transpose(0, 2), slice(a, 0, 0, 4, 2).transpose(0, 2)}, 2);
  check_exact(
      concat({a.to(kCuda).transpose(0, 2), slice(a.to(kCuda), 0, 0, 4, 2).transpose(0, 2)}, 2),
      parts);
}
