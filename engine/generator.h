// Explicit, seeded random generators. No hidden global state: whoever draws random
// numbers (initialisers, dropout, shuffling) is handed a Generator.
// xoshiro256** seeded through splitmix64 (common/random.h); normals by Box–Muller. Same
// stream on every platform and compiler (unlike std::normal_distribution).
#pragma once

#include <cmath>
#include <cstdint>

#include "common/random.h"

namespace melgrad {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : bits_(seed) {}

  void reseed(uint64_t seed) {
    bits_ = Xoshiro256StarStar(seed);
    has_spare_ = false;
  }

  uint64_t next_u64() { return bits_.next(); }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return bits_.unit(); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return n ? next_u64() % n : 0; }

  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }
  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  // A child generator with an independent stream (for workers, layers, epochs).
  Generator split() { return Generator(next_u64()); }

 private:
  Xoshiro256StarStar bits_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace melgrad
