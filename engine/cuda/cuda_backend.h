// CudaBackend: engine/backend.h on the CUDA kernels of kernels/ (elementwise, reduce,
// softmax, tensor_ops, indexing, gemm), launched on the device's stream. float32 compute;
// int64 for indices and argmax; copies and fills take every dtype. Split by kind over
// backend_copy.cpp (fill, copies within and across devices, random), backend_math.cpp
// (unary, binary, where, reductions, argmax, fused softmax), backend_indexing.cpp,
// backend_linalg.cpp (matmul), backend_fused.cpp (supports, dropout, cross-entropy),
// backend_optim.cpp (Adam, SGD, gradient clipping), step_graph.cpp, and the layer hooks:
// backend_conv.cpp, backend_pool.cpp, backend_norm.cpp, backend_lstm.cpp.
#pragma once

#include "engine/backend.h"
#include "engine/cuda/device_runtime.h"

namespace melgrad::cuda {

class CudaBackend final : public Backend {
 public:
  const char* name() const override { return "cuda"; }
  std::string device_name() const override { return cuda::device_name(); }
  void synchronize() override { cuda::synchronize(); }
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
  void lstm_forward(const LstmLayerTensors& layer) override;
  void lstm_backward(const LstmLayerTensors& layer, const LstmLayerGradients& grads) override;

  struct StepRecording;  // step_graph.cpp

 private:
  StepRecording* recording_ = nullptr;  // while capture_step records
};

class CachingAllocator;
// The caching allocator of cuda:0 (init.cpp), for the step graphs' private pools.
CachingAllocator& device_allocator();

// Raw pointers of a device tensor for a kernel's params (nullptr for an undefined tensor).
inline float* f32_ptr(const Tensor& t) {
  return t.defined() ? static_cast<float*>(t.raw_data()) : nullptr;
}
inline int64_t* i64_ptr(const Tensor& t) {
  return t.defined() ? static_cast<int64_t*>(t.raw_data()) : nullptr;
}
// At least `bytes` of scratch on cuda:0 from the caching allocator, as a float32 tensor
// (undefined for 0 bytes); the kernels that use it run before it is released.
Tensor workspace(std::size_t bytes);

// x itself when contiguous, else a contiguous copy on x's device (no autograd).
Tensor contiguous_on_device(const Tensor& x);
// A view of x with `dim` moved to the last position (no copy).
Tensor move_dim_last(const Tensor& x, int64_t dim);

}  // namespace melgrad::cuda
