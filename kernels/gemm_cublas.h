// The cuBLAS path of gemm() (kernels/gemm.h), internal to kernels/: built into both
// libraries, but only the CUDA build (melgrad_kernels_cuda) has cuBLAS; in the emulator
// build gemm_cublas throws a std::runtime_error that says so.
#pragma once

#include "kernels/gemm.h"

namespace melgrad::kernels::detail {

bool cublas_built();  // true in the CUDA build
// Row-major gemm through cublasSgemmStridedBatched on `stream`; p is already validated.
// Every cuBLAS call is checked: a failure throws std::runtime_error naming the call, the
// status, and the file and line.
void gemm_cublas(const GemmParams& p, Stream stream);

}  // namespace melgrad::kernels::detail
