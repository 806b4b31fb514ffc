// CudaBackend: matmul (placeholder until kernels/gemm.h lands).
#include <stdexcept>

#include "engine/cuda/cuda_backend.h"

namespace melgrad::cuda {

void CudaBackend::matmul(const Tensor&, const Tensor&, const Tensor&) {
  throw std::runtime_error("cuda backend: matmul: no GEMM kernel yet");
}

}  // namespace melgrad::cuda
