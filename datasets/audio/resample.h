// Resampling with libsoxr, as librosa.resample(y, orig_sr, target_sr, res_type="soxr_hq").
//
// y: mono float32 [n] -> [ceil(n * target_sr / orig_sr)] (librosa's fix_length of soxr's
// output). Quality: SOXR_HQ, the recipe python-soxr's "HQ" selects. With `scale` the
// result is divided by sqrt(target_sr / orig_sr) (librosa's scale=True, used by the CQT's
// early downsampling).
#pragma once

#include <span>
#include <vector>

namespace melgrad::audio {

std::vector<float> resample(std::span<const float> y, double orig_sr, double target_sr,
                            bool scale = false);

}  // namespace melgrad::audio
