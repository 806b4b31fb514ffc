// Beat-synchronous aggregation, as librosa 0.11.0:
//
//   sync_median(features, rows, frames, beat_frames)
//       == librosa.util.sync(features, beat_frames, aggregate=np.median) (pad=True, axis=-1)
//
// features: float32 [rows, frames] row-major. The boundaries are librosa.util.fix_frames
// (beats clipped to [0, frames], 0 and `frames` added, sorted, duplicates removed); segment
// j covers frames [b_j, b_{j+1}). Each row's median over a segment is computed in float32 as
// numpy does (an even count gives the mean of the two middle values, (a + b) / 2 in float32).
// Result: [rows, segments] row-major.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace melgrad::audio {

// The segment boundaries librosa.util.fix_frames(beats, x_min=0, x_max=frames) returns.
std::vector<int64_t> sync_boundaries(std::span<const int64_t> beat_frames, int64_t frames);

std::vector<float> sync_median(std::span<const float> features, int64_t rows, int64_t frames,
                               std::span<const int64_t> beat_frames);

}  // namespace melgrad::audio
