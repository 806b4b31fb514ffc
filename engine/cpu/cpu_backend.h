// The CPU backend: primitive kernels on Eigen maps over our own buffers (no copies on the
// contiguous paths). Split by kind over cpu/elementwise.cpp, cpu/reduce.cpp,
// cpu/linalg.cpp and cpu/indexing.cpp; the CNN layer kernels in cpu/backend_cnn.cpp (on
// cpu/{conv,pool,norm}.cpp), the composite ops (softmax, dropout, cross-entropy,
// check_range, step graphs) in cpu/fused.cpp, the optimiser steps in cpu/optim_steps.cpp
// and the LSTM layer in cpu/lstm_layer.cpp (on cpu/lstm.h's kernels).
#pragma once

#include "engine/backend.h"

namespace melgrad::cpu {

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  std::string device_name() const override { return "CPU"; }
  void synchronize() override {}
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

  bool supports(const std::string& op, DType dtype) const override;

  // Layer kernels (cpu/backend_cnn.cpp, on cpu/{conv,pool,norm}.cpp).
  void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                      const Conv2dShape& shape, bool relu) override;
  void conv2d_backward_input(const Tensor& gy, const Tensor& relu_y, const Tensor& weight,
                             const Tensor& gx, const Conv2dShape& shape) override;
  void conv2d_backward_weight(const Tensor& gy, const Tensor& relu_y, const Tensor& x,
                              const Tensor& gw, const Tensor& gb,
                              const Conv2dShape& shape) override;
  void pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                      const Pool2dShape& shape) override;
  void pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                       const Pool2dShape& shape) override;
  void batch_norm_forward(const BatchNormTensors& bn) override;
  void batch_norm_backward(const Tensor& gy, const BatchNormTensors& forward, bool batch_stats,
                           const Tensor& gx, const Tensor& gw, const Tensor& gb) override;

  Tensor softmax(const Tensor& x, int64_t dim, bool log) override;
  Tensor softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim, bool log) override;
  std::vector<Tensor> dropout(const Tensor& x, double p, uint64_t seed,
                              const uint64_t* seed_on_device) override;
  Tensor dropout_backward(const Tensor& dy, const std::vector<Tensor>& saved, double p,
                          uint64_t seed, const uint64_t* seed_on_device) override;
  std::vector<Tensor> cross_entropy(const Tensor& logits, const Tensor& targets,
                                    const Tensor& weights) override;
  std::vector<Tensor> cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                             const Tensor& weights, const Tensor& loss,
                                             const std::vector<Tensor>& saved,
                                             const Tensor& grad_loss, bool weights_grad) override;
  void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq,
                 const AdamStepArgs& args) override;
  void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buf,
                const SgdStepArgs& args) override;
  Tensor clip_grad_norm(const std::vector<Tensor>& grads, double max_norm) override;
  void check_range(const Tensor& values, int64_t lo, int64_t hi, RangeCheck kind,
                   const std::string& op) override;
  std::unique_ptr<StepGraph> capture_step(const std::function<void()>& step,
                                          std::string& why_not) override;
  const uint64_t* recording_dropout_seed(Generator& gen, uint64_t seed) override;

  void lstm_forward(const LstmLayerTensors& layer) override;
  void lstm_backward(const LstmLayerTensors& layer, const LstmLayerGradients& grads) override;
};

// x itself when contiguous, else a contiguous copy (no autograd).
Tensor contiguous_copy(const Tensor& x);

}  // namespace melgrad::cpu
