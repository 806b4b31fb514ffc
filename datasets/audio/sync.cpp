// Beat-synchronous median (librosa.util.sync): see sync.h.
#include "datasets/audio/sync.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace melgrad::audio {

std::vector<int64_t> sync_boundaries(std::span<const int64_t> beat_frames, int64_t frames) {
  std::vector<int64_t> bounds = {0, frames};
  for (int64_t b : beat_frames) {
    if (b < 0) throw std::invalid_argument("sync: negative beat frame " + std::to_string(b));
    bounds.push_back(std::min(b, frames));
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return bounds;
}

std::vector<float> sync_median(std::span<const float> features, int64_t rows, int64_t frames,
                               std::span<const int64_t> beat_frames) {
  if (rows < 1 || frames < 1 || int64_t(features.size()) != rows * frames)
    throw std::invalid_argument("sync: " + std::to_string(features.size()) +
                                " values do not form a [" + std::to_string(rows) + ", " +
                                std::to_string(frames) + "] feature array");
  const std::vector<int64_t> bounds = sync_boundaries(beat_frames, frames);
  const int64_t segments = int64_t(bounds.size()) - 1;
  std::vector<float> out(static_cast<size_t>(rows * segments));
  std::vector<float> scratch;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = features.data() + r * frames;
    for (int64_t s = 0; s < segments; ++s) {
      scratch.assign(row + bounds[size_t(s)], row + bounds[size_t(s + 1)]);
      const auto n = int64_t(scratch.size());
      const auto middle = scratch.begin() + n / 2;
      std::nth_element(scratch.begin(), middle, scratch.end());
      float median = *middle;
      if (n % 2 == 0) median = (*std::max_element(scratch.begin(), middle) + median) / 2.0f;
      out[size_t(r * segments + s)] = median;
    }
  }
  return out;
}

}  // namespace melgrad::audio
