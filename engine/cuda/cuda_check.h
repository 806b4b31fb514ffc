// MELGRAD_CUDA_CHECK(call): runs a CUDA runtime, cuBLAS or cuDNN call and throws CudaError
// naming the call, the file and the line, and the library's name and text for the status:
//   MELGRAD_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream));
//   -> "cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream) failed at
//       engine/cuda/device_runtime.cpp:88: cudaErrorIllegalAddress (an illegal memory access
//       was encountered)"
// Only for code built against the CUDA toolkit (the GPU variant); the emulator variant makes
// no CUDA calls. cuBLAS/cuDNN overloads exist when their headers do (the status strings need
// the library only where such a status is checked).
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

#if __has_include(<cublas_v2.h>)
#include <cublas_v2.h>
#define MELGRAD_HAVE_CUBLAS_HEADER 1
#endif
#if __has_include(<cudnn.h>)
#include <cudnn.h>
#define MELGRAD_HAVE_CUDNN_HEADER 1
#endif

namespace melgrad::cuda {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_cuda_error(const char* call, const char* file, int line,
                                          const std::string& status) {
  throw CudaError(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  status);
}

inline void check_status(cudaError_t e, const char* call, const char* file, int line) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so later calls start clean
  throw_cuda_error(call, file, line,
                   std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")");
}

#ifdef MELGRAD_HAVE_CUBLAS_HEADER
inline void check_status(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  throw_cuda_error(call, file, line,
                   std::string(cublasGetStatusName(s)) + " (" + cublasGetStatusString(s) + ")");
}
#endif

#ifdef MELGRAD_HAVE_CUDNN_HEADER
inline void check_status(cudnnStatus_t s, const char* call, const char* file, int line) {
  if (s == CUDNN_STATUS_SUCCESS) return;
  throw_cuda_error(call, file, line, cudnnGetErrorString(s));
}
#endif

}  // namespace melgrad::cuda

#define MELGRAD_CUDA_CHECK(call) ::melgrad::cuda::check_status((call), #call, __FILE__, __LINE__)
