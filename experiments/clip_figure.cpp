// Clip heat maps: see clip_figure.h.
#include "experiments/clip_figure.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "experiments/svg.h"

namespace melgrad::figures {
namespace {

constexpr int64_t kMelRows = 128, kChromaRows = 12;
const char* const kPitchClasses[12] = {"C",  "C#", "D",  "D#", "E",  "F",
                                       "F#", "G",  "G#", "A",  "A#", "B"};

struct Panel {
  std::vector<float> values;  // [rows, frames]
  int64_t rows = 0;
  bool chroma = false;
  double lo = 0, hi = 1;
};

// Splits a clip into its mel and chroma panels; colour ranges as the data set defines them
// (mel: -80..0 dB after power_to_db(ref=max, top_db=80), chroma: 0..1), widened to the data.
std::vector<Panel> panels_of(const std::vector<float>& clip, int64_t rows, int64_t frames) {
  if (frames <= 0 || clip.size() != size_t(rows * frames))
    throw std::invalid_argument("clip figure: expected " + std::to_string(rows) + " x " +
                                std::to_string(frames) + " values, got " +
                                std::to_string(clip.size()));
  std::vector<Panel> out;
  auto take = [&](int64_t first, int64_t count, bool chroma) {
    Panel p;
    p.rows = count;
    p.chroma = chroma;
    p.values.assign(clip.begin() + first * frames, clip.begin() + (first + count) * frames);
    p.lo = chroma ? 0.0 : -80.0;
    p.hi = chroma ? 1.0 : 0.0;
    for (float v : p.values)
      if (std::isfinite(v)) p.lo = std::min(p.lo, double(v)), p.hi = std::max(p.hi, double(v));
    out.push_back(std::move(p));
  };
  if (rows == kMelRows + kChromaRows) {
    take(0, kMelRows, false);
    take(kMelRows, kChromaRows, true);
  } else if (rows == kMelRows) {
    take(0, kMelRows, false);
  } else if (rows == kChromaRows) {
    take(0, kChromaRows, true);
  } else {
    throw std::invalid_argument(
        "clip figure: a clip has 140 rows (128 mel + 12 chroma), or 128 or 12; got " +
        std::to_string(rows));
  }
  return out;
}

// One panel: the image, axes (time or beats; mel band or pitch class) and a colour bar.
void draw_panel(svg::Canvas& c, const Panel& p, int64_t frames, const ClipPlot& plot, double top,
                double height) {
  const double left = 58, bar_w = 12, right_margin = 70;
  const double width = plot.width - left - right_margin;
  const double x_max =
      plot.beat ? double(frames) * plot.beats_per_column : double(frames) * plot.frame_seconds;
  svg::Ticks xt = svg::nice_ticks(0, x_max, 6);
  xt.lo = 0, xt.hi = x_max;
  xt.values.erase(std::remove_if(xt.values.begin(), xt.values.end(),
                                 [&](double v) { return v < 0 || v > x_max; }),
                  xt.values.end());
  svg::Ticks yt;
  yt.lo = 0, yt.hi = double(p.rows), yt.decimals = 0;
  if (p.chroma) {
    for (int i = 0; i < 12; ++i) yt.values.push_back(i + 0.5);
  } else {
    yt.values = {0, 32, 64, 96, 128};
  }
  svg::PlotFrame frame(left, top, width, height, xt, yt);
  c.image(left, top, width, height,
          png::data_uri(heat_image(p.values, p.rows, frames, p.lo, p.hi)));
  // Axes by hand: the frame's own draw_axes would print chroma ticks as numbers.
  c.rect(left, top, width, height, "none", "", "", "#444");
  svg::TextStyle tick{.size = 10, .anchor = "middle"};
  for (double v : xt.values) {
    c.line(frame.px(v), frame.bottom(), frame.px(v), frame.bottom() + 4, "#444");
    c.text(frame.px(v), frame.bottom() + 15, svg::format_tick(v, xt.decimals), tick);
  }
  svg::TextStyle ytick{.size = p.chroma ? 8.5 : 10, .anchor = "end"};
  for (size_t i = 0; i < yt.values.size(); ++i) {
    const double v = yt.values[i];
    const double y = top + height - (v / double(p.rows)) * height;
    c.line(left - 4, y, left, y, "#444");
    c.text(left - 6, y + 3, p.chroma ? kPitchClasses[i] : svg::format_tick(v, 0), ytick);
  }
  c.text(left + width / 2, frame.bottom() + 30, plot.beat ? "beat" : "time (s)",
         {.size = 11, .anchor = "middle"});
  c.text(16, top + height / 2, p.chroma ? "pitch class" : "mel band",
         {.size = 11, .anchor = "middle", .rotate = -90});
  // Colour bar: a one-column image from hi (top) to lo (bottom), with its range.
  const double bx = left + width + 12;
  std::vector<float> ramp(64);
  for (int i = 0; i < 64; ++i) ramp[size_t(i)] = float(p.lo + (p.hi - p.lo) * i / 63.0);
  c.image(bx, top, bar_w, height, png::data_uri(heat_image(ramp, 64, 1, p.lo, p.hi)));
  c.rect(bx, top, bar_w, height, "none", "", "", "#444");
  const std::string unit = p.chroma ? "" : " dB";
  c.text(bx + bar_w + 4, top + 9, svg::format_tick(p.hi, p.chroma ? 1 : 0) + unit, {.size = 9.5});
  c.text(bx + bar_w + 4, top + height, svg::format_tick(p.lo, p.chroma ? 1 : 0) + unit,
         {.size = 9.5});
}

}  // namespace

void magma(double t, uint8_t rgb[3]) {
  // Anchors of matplotlib's magma at t = 0, 1/8, ..., 1, interpolated linearly.
  static const double anchors[9][3] = {{0, 0, 4},      {28, 16, 68},    {79, 18, 123},
                                       {129, 37, 129}, {181, 54, 122},  {229, 80, 100},
                                       {251, 135, 97}, {254, 194, 135}, {252, 253, 191}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 8.0;
  const int i = std::min(int(t), 7);
  const double u = t - i;
  for (int k = 0; k < 3; ++k)
    rgb[k] = uint8_t(std::lround(anchors[i][k] + (anchors[i + 1][k] - anchors[i][k]) * u));
}

png::Image heat_image(const std::vector<float>& values, int64_t rows, int64_t cols, double lo,
                      double hi) {
  if (rows <= 0 || cols <= 0 || values.size() != size_t(rows * cols))
    throw std::invalid_argument("heat_image: " + std::to_string(values.size()) + " values for " +
                                std::to_string(rows) + " x " + std::to_string(cols));
  png::Image im{cols, rows, std::vector<uint8_t>(size_t(rows * cols * 3))};
  const double span = hi > lo ? hi - lo : 1.0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < cols; ++t)
      magma((double(values[size_t(r * cols + t)]) - lo) / span,
            &im.rgb[size_t(((rows - 1 - r) * cols + t) * 3)]);
  return im;
}

// Averages groups of k = ceil(frames / max_columns) frames (the last group may be shorter),
// so a 30 s clip's 1293 frames do not make a picture wider than the page.
static std::vector<float> average_frames(const std::vector<float>& clip, int64_t rows,
                                         int64_t frames, int64_t k) {
  const int64_t cols = (frames + k - 1) / k;
  std::vector<float> out(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t first = c * k, last = std::min(frames, first + k);
      double sum = 0;
      for (int64_t t = first; t < last; ++t) sum += clip[size_t(r * frames + t)];
      out[size_t(r * cols + c)] = float(sum / double(last - first));
    }
  return out;
}

std::string clip_svg(const std::vector<float>& clip, int64_t rows, int64_t frames,
                     const ClipPlot& plot_in) {
  if (plot_in.max_columns > 0 && frames > plot_in.max_columns &&
      clip.size() == size_t(rows * frames)) {
    const int64_t k = (frames + plot_in.max_columns - 1) / plot_in.max_columns;
    ClipPlot plot = plot_in;
    plot.max_columns = 0;
    plot.frame_seconds *= double(k);
    plot.beats_per_column = plot_in.beats_per_column * double(k);
    return clip_svg(average_frames(clip, rows, frames, k), rows, (frames + k - 1) / k, plot);
  }
  const ClipPlot& plot = plot_in;
  const std::vector<Panel> panels = panels_of(clip, rows, frames);
  const double title_h = plot.title.empty() ? 8 : 26, gap = 44;
  auto panel_height = [](const Panel& p) { return p.chroma ? 120.0 : 200.0; };
  double height = title_h;
  for (const Panel& p : panels) height += panel_height(p) + gap;
  svg::Canvas c(plot.width, height, plot.title.empty() ? "clip" : plot.title);
  if (!plot.title.empty())
    c.text(plot.width / 2, 17, plot.title, {.size = 13, .anchor = "middle", .weight = "bold"});
  double top = title_h;
  for (const Panel& p : panels) {
    draw_panel(c, p, frames, plot, top, panel_height(p));
    top += panel_height(p) + gap;
  }
  return c.str();
}

png::Image clip_png(const std::vector<float>& clip, int64_t rows, int64_t frames) {
  const std::vector<Panel> panels = panels_of(clip, rows, frames);
  std::vector<png::Image> parts;
  int64_t height = 0;
  for (const Panel& p : panels) {
    const int64_t scale = p.chroma ? 8 : 2;
    png::Image base = heat_image(p.values, p.rows, frames, p.lo, p.hi);
    png::Image tall{frames, p.rows * scale, {}};
    for (int64_t r = 0; r < base.height; ++r)
      for (int64_t k = 0; k < scale; ++k)
        tall.rgb.insert(tall.rgb.end(), base.rgb.begin() + r * frames * 3,
                        base.rgb.begin() + (r + 1) * frames * 3);
    height += tall.height;
    parts.push_back(std::move(tall));
  }
  const int64_t separator = parts.size() > 1 ? 2 : 0;
  png::Image out{frames, height + separator, {}};
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.rgb.insert(out.rgb.end(), size_t(separator * frames * 3), uint8_t(255));
    out.rgb.insert(out.rgb.end(), parts[i].rgb.begin(), parts[i].rgb.end());
  }
  return out;
}

}  // namespace melgrad::figures
