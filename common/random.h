// The random streams every part of melgrad draws from, written once so that they stay bit for
// bit the same wherever they run:
//   splitmix64          seed mixing (Steele et al., "Fast splittable pseudorandom number
//                       generators", OOPSLA 2014): seeds xoshiro, derives per-stream seeds
//   Xoshiro256StarStar  the sequential generator (Blackman & Vigna) behind engine/generator.h
//                       (initialisers, shuffles) and datasets/rng.h (splits, synthetic data)
//   philox4x32_10       the counter-based generator (Salmon et al., "Parallel random numbers:
//                       as easy as 1, 2, 3", SC 2011; the Random123 constants) of the dropout
//                       mask, computed alike by the CPU (engine/ops/dropout.cpp) and the CUDA
//                       kernel (kernels/dropout.cu)
// The dropout stream: element i of a call with 64-bit `seed` takes lane (i mod 4) of the block
// for the 128-bit counter {i / 4 (64 bits), 0, 0} under the key {seed lo, seed hi}; its uniform
// in [0, 1) is the lane's top 24 bits times 2^-24 (exact in float).
// Plain C++; under nvcc the Philox functions are __host__ __device__.
#pragma once

#include <cstdint>

#include "common/host_device.h"

namespace melgrad {

// ---- splitmix64 -------------------------------------------------------------------------

// The golden-ratio increment of splitmix64's state.
inline constexpr uint64_t kSplitmix64Gamma = 0x9E3779B97F4A7C15ULL;

// splitmix64's output function: a bijective mix of the 64 bits of z.
constexpr uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// One step of splitmix64: advances `state` by the gamma and returns the mix of the new state.
constexpr uint64_t splitmix64(uint64_t& state) { return splitmix64_mix(state += kSplitmix64Gamma); }

// ---- xoshiro256** -----------------------------------------------------------------------

// 256 bits of state seeded by four splitmix64 steps from `seed`; next() gives 64 bits.
struct Xoshiro256StarStar {
  uint64_t s[4];

  explicit constexpr Xoshiro256StarStar(uint64_t seed) : s{} {
    for (uint64_t& word : s) word = splitmix64(seed);
  }

  constexpr uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }

  // Uniform in [0, 1) from the top 53 bits of one draw.
  constexpr double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
};

// ---- Philox4x32-10 ----------------------------------------------------------------------

// Four 32-bit outputs of one Philox block.
struct PhiloxBlock {
  uint32_t v[4];
  MELGRAD_HOST_DEVICE uint32_t operator[](int lane) const { return v[lane]; }
};

// The full generator: 128-bit counter c0..c3 (c0 least significant), 64-bit key k0, k1.
MELGRAD_HOST_DEVICE inline PhiloxBlock philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2,
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
MELGRAD_HOST_DEVICE inline PhiloxBlock philox4x32_10(uint64_t counter, uint64_t seed) {
  return philox4x32_10(uint32_t(counter), uint32_t(counter >> 32), 0u, 0u, uint32_t(seed),
                       uint32_t(seed >> 32));
}

// Top 24 bits as a float in [0, 1): every value is exact.
MELGRAD_HOST_DEVICE inline float philox_to_unit(uint32_t r) { return float(r >> 8) * 0x1.0p-24f; }

// The uniform of element `index` of the dropout stream with `seed`.
MELGRAD_HOST_DEVICE inline float philox_uniform_at(uint64_t seed, uint64_t index) {
  return philox_to_unit(philox4x32_10(index / 4, seed)[static_cast<int>(index % 4)]);
}

}  // namespace melgrad
