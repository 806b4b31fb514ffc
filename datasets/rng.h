// Seeded random numbers for the data layer: splits, epoch shuffles and the synthetic
// data-set generator. xoshiro256** seeded through splitmix64 (common/random.h), normals by
// Box–Muller and our own Fisher–Yates shuffle, so a seed gives the same stream on every
// platform and standard library (std::shuffle and std::normal_distribution do not promise
// that). Independent of engine/generator.h so the data layer builds without the engine.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "common/random.h"

namespace melgrad::data {

// Mixes a seed with a stream key (e.g. a sub-set name and a clip id) into a new seed.
inline uint64_t mix_seed(uint64_t seed, uint64_t key) {
  uint64_t x = seed ^ (key * kSplitmix64Gamma);
  splitmix64(x);
  return splitmix64(x);
}

// FNV-1a over bytes; used for stream keys and cache fingerprints.
inline uint64_t fnv1a64(std::string_view s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : bits_(seed) {}

  uint64_t next_u64() { return bits_.next(); }

  double uniform() { return bits_.unit(); }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Uniform integer in [0, n) without modulo bias (Lemire's method with rejection).
  uint64_t below(uint64_t n) {
    if (n == 0) return 0;
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
      const unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * n;
      if (static_cast<uint64_t>(m) >= threshold) return static_cast<uint64_t>(m >> 64);
    }
  }
  int64_t integer(int64_t lo, int64_t hi) {  // inclusive range [lo, hi]
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo + 1)));
  }

  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }
  double normal(double mean, double sd) { return mean + sd * normal(); }

  template <class T>
  void shuffle(std::vector<T>& v) {  // Fisher–Yates, last to first
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  Xoshiro256StarStar bits_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace melgrad::data
