// The inverse short-time Fourier transform as librosa computes it, on FFTW3 (double).
//
//   istft(S, hop, length)  ==  librosa.istft(S, hop_length=hop, window="hann", center=True,
//                                            length=length)          (librosa 0.11.0)
//
// S: [bins, frames] (stft.h's Spectrum), n_fft = 2 * (bins - 1). Each frame is inverted with
// a real inverse FFT (FFTW c2r, scaled by 1 / n_fft like numpy's irfft; the imaginary parts
// of the DC and Nyquist bins are ignored, as irfft does), multiplied by the periodic Hann
// window and overlap-added at t * hop. Only the first min(frames, ceil((length + n_fft) / hop))
// frames are used (librosa's trimming when `length` is given). The sum is divided by the
// window's sum-square envelope (librosa.filters.window_sumsquare) wherever that exceeds the
// smallest normal float, the first n_fft / 2 samples (the centring pad) are dropped and the
// result is cut or zero-padded to `length` samples.
// librosa overlap-adds into a float32 buffer; we add in double and round once at the end,
// so results agree to float32 rounding (~1e-7 relative), not bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "datasets/audio/stft.h"

namespace melgrad::audio {

std::vector<float> istft(const Spectrum& spectrum, int64_t hop, int64_t length);

}  // namespace melgrad::audio
