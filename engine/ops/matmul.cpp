// Matrix multiply: a [..., M, K] @ b [..., K, N] -> [..., M, N], batch dims broadcast.
// Backward: dA = dC @ B^T, dB = A^T @ dC, each summed back over broadcast batch dims.
// Transposed operands are strided views, which the backends read without copying.
#include <stdexcept>

#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

namespace {

// A [B, r, c] view of x ([..., r, c], already expanded to the batch shape); copies only
// when the batch dims cannot be merged into one stride (stride-0 expanded dims can).
Tensor batched3(const Tensor& x) {
  const int64_t nd = x.dim(), r = x.size(-2), c = x.size(-1);
  std::vector<int64_t> dims;  // batch dims of size > 1
  int64_t batch = 1;
  for (int64_t d = 0; d < nd - 2; ++d) {
    batch *= x.size(d);
    if (x.size(d) != 1) dims.push_back(d);
  }
  bool mergeable = true;
  for (size_t i = 0; i + 1 < dims.size(); ++i)
    mergeable &= x.strides()[dims[i]] == x.strides()[dims[i + 1]] * x.size(dims[i + 1]);
  if (mergeable) {
    int64_t step = dims.empty() ? 0 : x.strides()[dims.back()];
    return x.as_strided({batch, r, c}, {step, x.strides()[nd - 2], x.strides()[nd - 1]},
                        x.offset());
  }
  Tensor cc = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).copy(x, cc);
  return cc.as_strided({batch, r, c}, {r * c, c, 1}, 0);
}

}  // namespace

static const OpInfo& kMatmul = register_op(
    {.name = "matmul", .family = "linalg", .gradcheck = [](Generator& g) {
       auto mm = [](const TensorList& in) { return matmul(in[0], in[1]); };
       return GradCases{
           {"2-D", {gc_input({3, 4}, g), gc_input({4, 5}, g)}, mm},
           {"batched", {gc_input({2, 3, 4}, g), gc_input({2, 4, 2}, g)}, mm},
           {"broadcast batch", {gc_input({2, 1, 3, 4}, g), gc_input({3, 4, 2}, g)}, mm},
           {"transposed operand",
            {gc_input({3, 4}, g), gc_input({5, 4}, g)},
            [](const TensorList& in) { return matmul(in[0], transpose(in[1], 0, 1)); }}};
     }});

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_device(kMatmul, {a, b});
  check_floating(kMatmul, a);
  check_same_dtype(kMatmul, a, b);
  if (a.dim() < 2 || b.dim() < 2 || a.size(-1) != b.size(-2))
    throw std::invalid_argument("matmul: shapes " + shape_str(a.shape()) + " and " +
                                shape_str(b.shape()) +
                                " do not multiply (need [..., M, K] and [..., K, N])");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  Shape sa = batch, sb = batch, so = batch;
  sa.insert(sa.end(), {M, K});
  sb.insert(sb.end(), {K, N});
  so.insert(so.end(), {M, N});
  Tensor out = Tensor::empty(so, a.dtype(), a.device());
  const int64_t B = numel_of(batch);
  backend_for(a.device())
      .matmul(batched3(broadcast_view(a, sa)), batched3(broadcast_view(b, sb)),
              out.as_strided({B, M, N}, {M * N, N, 1}, 0));
  return record(kMatmul, {a, b}, out,
                [a = a.detach(), b = b.detach(), need_a = a.requires_grad(),
                 need_b = b.requires_grad()](const TensorList& g) {
                  Tensor ga, gb;
                  if (need_a) ga = sum_to(matmul(g[0], transpose(b, -1, -2)), a.shape());
                  if (need_b) gb = sum_to(matmul(transpose(a, -1, -2), g[0]), b.shape());
                  return TensorList{ga, gb};
                });
}

}  // namespace melgrad
