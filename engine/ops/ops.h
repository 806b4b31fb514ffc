// The engine's differentiable ops, as free functions. Each is registered once (its
// OpInfo) in the file of its family, with its forward and backward side by side:
//   ops/elementwise.cpp  add sub mul div pow neg exp log sqrt abs clamp relu sigmoid tanh
//                        gelu silu
//                        where masked_fill, comparisons
//   ops/reduce.cpp       sum mean max min argmax
//   ops/matmul.cpp       matmul (2-D and batched, broadcasting batch dims)
//   ops/softmax.cpp      softmax log_softmax
//   ops/shape_ops.cpp    reshape view permute transpose slice narrow squeeze unsqueeze expand
//                        contiguous clone to concat stack index_select gather
// Shapes follow PyTorch; errors name the op and the shapes involved.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace melgrad {

// ---- elementwise (NumPy broadcasting for binary ops; both operands the same dtype) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& x, double exponent);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor gelu(const Tensor& x);  // x * Phi(x), the erf form (PyTorch's default)
Tensor silu(const Tensor& x);  // x * sigmoid(x) (swish)
Tensor affine(const Tensor& x, double scale, double shift);  // scale * x + shift
// cond != 0 ? a : b (cond any dtype, not differentiated).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// Comparisons: 0/1 in a's dtype, no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// ---- reductions: dims empty = all dims ---------------------------------------------
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
// Max/min values over dims; the gradient is shared equally among tied maxima.
Tensor max(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor min(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // int64, no gradient
// Sums g over the dims that broadcasting added to reach g's shape (backward of broadcast).
Tensor sum_to(const Tensor& g, const Shape& shape);

// ---- linear algebra ----------------------------------------------------------------
// a [..., M, K] @ b [..., K, N] -> [..., M, N]; batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- softmax -----------------------------------------------------------------------
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- shapes, views and indexing ------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);  // one -1 allowed; copies if needed
Tensor view(const Tensor& x, const Shape& shape);     // contiguous input only
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor to_device(const Tensor& x, Device device);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index int64 [L]
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);        // index int64, x's rank

}  // namespace melgrad
