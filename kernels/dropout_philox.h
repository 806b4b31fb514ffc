// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011;
// the Random123 constants), header-only, for the dropout mask of every backend: the
// engine's CPU dropout (engine/ops/dropout.cpp) and the CUDA kernel (kernels/dropout.cu)
// include this one definition, so the same (seed, element index) gives the same bits.
//
// The dropout stream: element i of a call with 64-bit `seed` takes lane (i mod 4) of the
// block for the 128-bit counter {i / 4 (64 bits), 0, 0} under the key {seed lo, seed hi};
// its uniform in [0, 1) is the lane's top 24 bits times 2^-24 (exact in float).
// Plain C++ (no CUDA headers); under nvcc the functions are __host__ __device__.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define MG_PHILOX_HOST_DEVICE __host__ __device__
#else
#define MG_PHILOX_HOST_DEVICE
#endif

namespace melgrad::kernels {

// Four 32-bit outputs of one Philox block.
struct PhiloxBlock {
  uint32_t v[4];
  MG_PHILOX_HOST_DEVICE uint32_t operator[](int lane) const { return v[lane]; }
};

// The full generator: 128-bit counter c0..c3 (c0 least significant), 64-bit key k0, k1.
MG_PHILOX_HOST_DEVICE inline PhiloxBlock philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2,
                                                       uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t{0xD2511F53u} * c0, p1 = uint64_t{0xCD9E8D57u} * c2;
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;  // the Weyl key schedule
    k1 += 0xBB67AE85u;
  }
  return PhiloxBlock{{c0, c1, c2, c3}};
}

// The dropout stream's block for a 64-bit counter under a 64-bit seed.
MG_PHILOX_HOST_DEVICE inline PhiloxBlock philox4x32_10(uint64_t counter, uint64_t seed) {
  return philox4x32_10(uint32_t(counter), uint32_t(counter >> 32), 0u, 0u, uint32_t(seed),
                       uint32_t(seed >> 32));
}

// Top 24 bits as a float in [0, 1): every value is exact.
MG_PHILOX_HOST_DEVICE inline float philox_to_unit(uint32_t r) { return float(r >> 8) * 0x1.0p-24f; }

// The uniform of element `index` of the dropout stream with `seed`.
MG_PHILOX_HOST_DEVICE inline float philox_uniform_at(uint64_t seed, uint64_t index) {
  return philox_to_unit(philox4x32_10(index / 4, seed)[static_cast<int>(index % 4)]);
}

}  // namespace melgrad::kernels
