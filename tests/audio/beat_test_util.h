// Helpers shared by the beat tests: where the Debian music lives, and the beat F-measure.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace melgrad::test {

// Debian's planetblupi-music-ogg tracks; MELGRAD_MUSIC_DIR overrides the folder (an empty
// folder shows the parity test's skip).
inline std::string music_path(const std::string& track) {
  const char* dir = std::getenv("MELGRAD_MUSIC_DIR");
  return std::string(dir ? dir : "/usr/share/planetblupi/music") + "/" + track + ".ogg";
}

// F-measure of estimated against reference beat times (seconds) with a +-window tolerance:
// each reference beat matches at most one estimated beat (greedy in time order, which equals
// the optimal one-to-one matching when beats are farther apart than 2 windows). Unlike
// mir_eval's default, no beats are dropped from the first 5 s.
inline double beat_f_measure(const std::vector<double>& reference,
                             const std::vector<double>& estimate, double window = 0.07) {
  if (reference.empty() && estimate.empty()) return 1.0;
  if (reference.empty() || estimate.empty()) return 0.0;
  std::vector<bool> used(estimate.size(), false);
  int64_t hits = 0;
  for (double r : reference) {
    for (size_t j = 0; j < estimate.size(); ++j) {
      if (!used[j] && std::abs(estimate[j] - r) <= window) {
        used[j] = true;
        ++hits;
        break;
      }
    }
  }
  const double precision = double(hits) / double(estimate.size());
  const double recall = double(hits) / double(reference.size());
  return hits == 0 ? 0.0 : 2 * precision * recall / (precision + recall);
}

}  // namespace melgrad::test
