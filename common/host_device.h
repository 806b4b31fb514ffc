// MELGRAD_HOST_DEVICE: marks a function of common/ callable from host code and, under nvcc,
// from CUDA kernels. Plain C++ everywhere else (g++, and the kernel emulator's build).
#pragma once

#if defined(__CUDACC__)
#define MELGRAD_HOST_DEVICE __host__ __device__
#else
#define MELGRAD_HOST_DEVICE
#endif
