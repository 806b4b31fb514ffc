// The short-time Fourier transform as librosa computes it, on FFTW3 (double precision).
//
//   stft(y, {n_fft, hop})  ==  librosa.stft(y, n_fft=n_fft, hop_length=hop, window="hann",
//                                           center=True, pad_mode="constant")
//
// y: a mono signal [n]. With `center` the signal is padded with n_fft/2 zeros on both sides
// (librosa >= 0.10's default pad_mode "constant"), so frame t is centred on sample t * hop;
// frames = 1 + (n + 2 * (n_fft / 2) - n_fft) / hop. The window is the periodic Hann window
// (scipy.signal.get_window("hann", n_fft, fftbins=True)), or all ones (`Window::ones`, as
// librosa's CQT uses). The windowed frame is formed and transformed in double precision,
// as numpy does for a float32 signal times librosa's float64 window; the result is stored
// as complex<float> (librosa's complex64).
// Result: [bins = 1 + n_fft / 2, frames], row-major like librosa's array: value(f, t) is at
// values[f * frames + t].
// Thread-safe: FFTW plans are made once per size under a lock and executed with per-call
// buffers.
#pragma once

#include <complex>
#include <cstdint>
#include <span>
#include <vector>

namespace melgrad::audio {

enum class Window { hann, ones };

struct StftOptions {
  int64_t n_fft = 2048;
  int64_t hop = 512;
  Window window = Window::hann;
  bool center = true;
};

struct Spectrum {
  int64_t bins = 0, frames = 0;
  std::vector<std::complex<float>> values;  // [bins, frames]
  std::complex<float> at(int64_t f, int64_t t) const { return values[size_t(f * frames + t)]; }
};

// Periodic Hann window of length n: 0.5 - 0.5 cos(2 pi i / n).
std::vector<double> hann_window(int64_t n);

Spectrum stft(std::span<const float> y, const StftOptions& options = {});

// Frames [first_frame, first_frame + frame_count) of stft(y, options), so long signals can be
// transformed block by block (mel.cpp). stft_frame_count(n, options): the frames of stft(y).
Spectrum stft_frames(std::span<const float> y, const StftOptions& options, int64_t first_frame,
                     int64_t frame_count);
int64_t stft_frame_count(int64_t n, const StftOptions& options);

// |X|^power elementwise, [bins, frames] row-major (power 2: the power spectrogram).
std::vector<float> magnitude(const Spectrum& s, double power);

}  // namespace melgrad::audio
