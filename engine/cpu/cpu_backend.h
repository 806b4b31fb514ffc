// The CPU backend: primitive kernels on Eigen maps over our own buffers (no copies on the
// contiguous paths). Split by kind over cpu/elementwise.cpp, cpu/reduce.cpp,
// cpu/linalg.cpp, cpu/indexing.cpp and cpu/backend_cnn.cpp (the CNN layer kernels).
#pragma once

#include "engine/backend.h"

namespace melgrad::cpu {

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  void fill(const Tensor& out, double value) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void reduce(ReduceOp op, const Tensor& x, const Tensor& out) override;
  void argmax(const Tensor& x, int64_t dim, const Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void index_select(const Tensor& x, int64_t dim, const Tensor& index,
                    const Tensor& out) override;
  void index_add(const Tensor& out, int64_t dim, const Tensor& index,
                 const Tensor& src) override;
  void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& out, int64_t dim, const Tensor& index,
                   const Tensor& src) override;
  void random(const Tensor& out, Generator& gen, bool normal, double a, double b) override;

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
};

// x itself when contiguous, else a contiguous copy (no autograd).
Tensor contiguous_copy(const Tensor& x);

}  // namespace melgrad::cpu
