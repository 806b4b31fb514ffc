// The TF32 tensor-core path of gemm() (kernels/gemm.h), internal to kernels/: a WMMA
// kernel (m16n16k8, TF32 inputs, float accumulation) that only the CUDA build has and
// only GPUs of compute capability 8.0 or newer can run. The emulator cannot execute
// tensor-core instructions, so there gemm_tf32 throws a std::runtime_error that says so.
// TF32 keeps 10 mantissa bits of each input: expect relative errors ~1e-3, not 1e-6.
#pragma once

#include "kernels/gemm.h"

namespace melgrad::kernels::detail {

bool tf32_built();  // true in the CUDA build
// p is already validated; throws when the device is older than sm_80.
void gemm_tf32(const GemmParams& p, Stream stream);

}  // namespace melgrad::kernels::detail
