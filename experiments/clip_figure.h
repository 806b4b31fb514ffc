// Pictures of one clip in the data set's format, as librosa.display.specshow draws them:
// the log-mel spectrogram (rows 0-127, dB) and the chromagram (rows 128-139, 0..1) as heat
// maps on the magma colour map, low frequencies at the bottom, time (or beat) along x,
// each with its axes and a colour bar. Used by `melgrad show` and the report's
// exploratory section.
//   clip: [140, T] row-major (a .npy clip as read); mel-only (128) or chroma-only (12)
//   arrays are drawn as the one panel they hold.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiments/png.h"

namespace melgrad::figures {

struct ClipPlot {
  std::string title{};
  bool beat = false;                       // x counts beats, not seconds
  double frame_seconds = 512.0 / 22050.0;  // hop / sample rate of the data set
  double width = 620;                      // pixels of the whole figure
  int64_t max_columns = 0;                 // > 0: average groups of frames down to at most this
  double beats_per_column = 1;             // set when beat columns were averaged (max_columns)
};

// The magma colour map at t in [0, 1] (clamped; NaN -> 0) as 8-bit RGB.
void magma(double t, uint8_t rgb[3]);

// values: [rows, cols] row-major, drawn with row 0 at the BOTTOM; colours span [lo, hi].
png::Image heat_image(const std::vector<float>& values, int64_t rows, int64_t cols, double lo,
                      double hi);

// The mel and chroma panels of a clip in one <svg> element. Throws std::invalid_argument
// when rows is not 140, 128 or 12 or the data does not match rows x frames.
std::string clip_svg(const std::vector<float>& clip, int64_t rows, int64_t frames,
                     const ClipPlot& plot);

// The same picture without axes (one pixel per frame, two per mel band, eight per chroma
// bin; the two panels separated by a white line), for `melgrad show --out FILE.png`.
png::Image clip_png(const std::vector<float>& clip, int64_t rows, int64_t frames);

}  // namespace melgrad::figures
