// Backend: the primitive kernels one device provides. Ops (engine/ops) do shape logic and
// autograd, then call these. Outputs are allocated by the caller; inputs may be strided
// views unless a method says "contiguous". A backend that lacks a kernel throws an error
// naming the kernel and the device.
//
// Big layers (conv, pooling, BatchNorm, LSTM) add their own fused kernels beside these in
// their op families; this interface holds what every elementwise/reduction/linear-algebra
// op is built from.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace melgrad {

enum class UnaryOp {
  neg, exp, log, sqrt, abs, relu, sigmoid, tanh, sign,
  pow_scalar,   // x ^ a
  clamp,        // min(max(x, a), b)
  affine,       // a * x + b
  step,         // x > a ? 1 : 0
};

enum class BinaryOp { add, sub, mul, div, pow, max, min, eq, gt, ge, lt, le };

enum class ReduceOp { sum, max, min };

// One Adam/AdamW step's hyper-parameters (engine/optim/optim.h's update rule); step counts
// from 1.
struct AdamStepArgs {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled_weight_decay;
  int64_t step;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  virtual void fill(const Tensor& out, double value) = 0;
  // dst = src, shapes equal, any strides and dtypes.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  // out = f(x): x and out have the same shape.
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) = 0;
  // out = a (op) b: a and b already expanded to out's shape (stride 0 on broadcast dims).
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out = cond != 0 ? a : b, all expanded to out's shape.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b,
                     const Tensor& out) = 0;
  // out has x's rank with size 1 on the reduced dims.
  virtual void reduce(ReduceOp op, const Tensor& x, const Tensor& out) = 0;
  // out (int64, keepdim shape) = index of the first maximum along dim.
  virtual void argmax(const Tensor& x, int64_t dim, const Tensor& out) = 0;
  // out[b] = a[b] @ b[b]: a [B, M, K], b [B, K, N] (any strides, batch stride may be 0),
  // out [B, M, N] contiguous.
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out = x.index_select(dim, index); index int64 [L]; out contiguous.
  virtual void index_select(const Tensor& x, int64_t dim, const Tensor& index,
                            const Tensor& out) = 0;
  // out.index_select(dim, index) += src  (duplicates accumulate).
  virtual void index_add(const Tensor& out, int64_t dim, const Tensor& index,
                         const Tensor& src) = 0;
  // out[.., i, ..] = x[.., index[.., i, ..], ..] along dim; index has out's shape.
  virtual void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) = 0;
  // out[.., index[.., i, ..], ..] += src[.., i, ..] along dim.
  virtual void scatter_add(const Tensor& out, int64_t dim, const Tensor& index,
                           const Tensor& src) = 0;
  // Fills with uniform [lo, hi) or normal(mean, std) from `gen`, in row-major order.
  virtual void random(const Tensor& out, Generator& gen, bool normal, double a, double b) = 0;

  // ---- fused kernels (optional) ----------------------------------------------------
  // A backend with a fused kernel for a composite op overrides its hook and returns the
  // result; the defaults return an undefined Tensor (false), and the op then composes the
  // primitives above, which is the CPU's path. No autograd here: ops record the node.
  //
  // y = softmax(x) (log: log_softmax) along dim; y contiguous, x's shape.
  virtual Tensor fused_softmax(const Tensor& /*x*/, int64_t /*dim*/, bool /*log*/) { return {}; }
  // dx for y = softmax(x) (y * (dy - sum(dy * y))) or log_softmax (dy - exp(y) * sum(dy)).
  virtual Tensor fused_softmax_backward(const Tensor& /*y*/, const Tensor& /*dy*/,
                                        int64_t /*dim*/, bool /*log*/) {
    return {};
  }
  // Inverted dropout y = x * mask with ops/dropout.cpp's Philox mask for `seed` (element i
  // of x in row-major order kept iff philox_uniform(seed, i) >= p, scaled by 1 / (1 - p));
  // y contiguous. The backward regenerates the mask: dx = dy * mask.
  virtual Tensor fused_dropout(const Tensor& /*x*/, double /*p*/, uint64_t /*seed*/) { return {}; }
  virtual Tensor fused_dropout_backward(const Tensor& /*dy*/, double /*p*/, uint64_t /*seed*/) {
    return {};
  }
  // Mean cross-entropy of logits [N, C] against int64 targets [N] in [0, C), with optional
  // class weights [C] (ops/loss.h); returns {loss [], saved...} for the backward, which
  // returns dlogits = grad_loss * dloss/dlogits. Targets are checked by the caller.
  virtual std::vector<Tensor> fused_cross_entropy(const Tensor& /*logits*/,
                                                  const Tensor& /*targets*/,
                                                  const Tensor& /*weights*/) {
    return {};
  }
  virtual Tensor fused_cross_entropy_backward(const Tensor& /*logits*/, const Tensor& /*targets*/,
                                              const Tensor& /*weights*/,
                                              const std::vector<Tensor>& /*saved*/,
                                              const Tensor& /*grad_loss*/) {
    return {};
  }
  // One Adam step over parameters with their gradients and moments (each list the same
  // length; all contiguous, on this device), updated in place. False: not provided.
  virtual bool fused_adam_step(const std::vector<Tensor>& /*params*/,
                               const std::vector<Tensor>& /*grads*/,
                               const std::vector<Tensor>& /*exp_avg*/,
                               const std::vector<Tensor>& /*exp_avg_sq*/,
                               const AdamStepArgs& /*args*/) {
    return false;
  }
};

Backend& backend_for(Device device);
void set_backend(DeviceType type, Backend* backend);

}  // namespace melgrad
