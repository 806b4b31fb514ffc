// Harmonic/percussive separation by median filtering (Fitzgerald 2010), as librosa 0.11.0.
//
//   keep_percussive(D)
//       == librosa.decompose.hpss(D, kernel_size=31, power=2, margin=1)[1], in place:
//       S = |D| (complex64 magnitude), H = median over 31 frames (each bin's row),
//       P = median over 31 bins (each frame's column); soft mask M = P^2 / (P^2 + H^2)
//       computed in float32 as librosa.util.softmask(P, H, power=2, split_zeros=True)
//       (both scaled by max(P, H); 0.5 where max(P, H) < FLT_MIN); D <- (S * M) * phase(D).
//   percussive(y)
//       == librosa.effects.percussive(y): stft (n_fft 2048, hop 512, Hann, centred,
//       zero padding), keep_percussive, istft with length = len(y) (istft.h), streamed over
//       blocks of 256 frames (each with the 15 frames on either side that the time median
//       reads), overlap-added into float32 in frame order as librosa does.
// `threads` splits the median filters and the per-frame work (1: the caller's thread).
// `tap`, when given, sees each block's magnitudes |X| ([bins, stride] row-major) for frames
// [first_frame, first_frame + count) at columns [first_column, ...), once per frame, in
// order: the STFT of y that the log-mel needs too (features.cpp), so it is computed once.
// Memory: keep_percussive holds three float planes of [bins, frames] beside the spectrum
// (~0.3 GB for a 10-minute track); percussive holds the output signal and ~15 MB of blocks.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "datasets/audio/median_filter.h"  // median_filter_reflect (scipy median_filter)
#include "datasets/audio/stft.h"

namespace melgrad::audio {

void keep_percussive(Spectrum& spectrum, int64_t kernel_size = 31, int threads = 1);

using MagnitudeTap = std::function<void(const float* magnitude, int64_t stride,
                                        int64_t first_column, int64_t count, int64_t first_frame)>;

std::vector<float> percussive(std::span<const float> y, int threads = 1,
                              const MagnitudeTap& tap = {});

}  // namespace melgrad::audio
