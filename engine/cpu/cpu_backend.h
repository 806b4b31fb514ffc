// The CPU backend: primitive kernels on Eigen maps over our own buffers (no copies on the
// contiguous paths). Split by kind over cpu/elementwise.cpp, cpu/reduce.cpp,
// cpu/linalg.cpp and cpu/indexing.cpp.
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
};

// x itself when contiguous, else a contiguous copy (no autograd).
Tensor contiguous_copy(const Tensor& x);

}  // namespace melgrad::cpu
