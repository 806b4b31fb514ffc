// CudaBackend: engine/backend.h on the CUDA kernels of kernels/ (elementwise, reduce,
// softmax, tensor_ops, indexing, gemm), launched on the device's stream. float32 compute;
// int64 for indices and argmax; copies and fills take every dtype. Split by kind over
// backend_copy.cpp (fill, copies within and across devices, random), backend_math.cpp
// (unary, binary, where, reductions, argmax, fused softmax), backend_indexing.cpp,
// backend_linalg.cpp (matmul) and backend_fused.cpp (dropout, cross-entropy, Adam).
#pragma once

#include "engine/backend.h"

namespace melgrad::cuda {

class CudaBackend final : public Backend {
 public:
  const char* name() const override { return "cuda"; }
  void fill(const Tensor& out, double value) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void reduce(ReduceOp op, const Tensor& x, const Tensor& out) override;
  void argmax(const Tensor& x, int64_t dim, const Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) override;
  void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) override;
  void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) override;
  void random(const Tensor& out, Generator& gen, bool normal, double a, double b) override;

  Tensor fused_softmax(const Tensor& x, int64_t dim, bool log) override;
  Tensor fused_softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim, bool log) override;
  Tensor fused_dropout(const Tensor& x, double p, uint64_t seed) override;
  Tensor fused_dropout_backward(const Tensor& dy, double p, uint64_t seed) override;
  std::vector<Tensor> fused_cross_entropy(const Tensor& logits, const Tensor& targets,
                                          const Tensor& weights) override;
  Tensor fused_cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                      const Tensor& weights, const std::vector<Tensor>& saved,
                                      const Tensor& grad_loss) override;
  bool fused_adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                       const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq,
                       const AdamStepArgs& args) override;
};

// x itself when contiguous, else a contiguous copy on x's device (no autograd).
Tensor contiguous_on_device(const Tensor& x);
// A view of x with `dim` moved to the last position (no copy).
Tensor move_dim_last(const Tensor& x, int64_t dim);

}  // namespace melgrad::cuda
