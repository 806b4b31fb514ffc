// A small hand-written SVG toolkit for the study report: text escaping, "nice" axis ticks
// (Heckbert's 1/2/5 x 10^k steps), a canvas that appends SVG elements with every piece of
// text escaped, and a plot frame that maps data coordinates to pixels and draws axes,
// grid lines, tick labels and a legend. Charts built on it are in svg_charts.h.
//
// Pixel coordinates: x grows to the right, y grows downwards, origin at the top left.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace melgrad::svg {

// Escapes & < > " ' so that the text is safe inside XML/HTML text and attribute values.
std::string escape_xml(std::string_view text);

// Heckbert's nice number: the 1, 2, 5 or 10 times a power of ten closest to x (round)
// or the smallest one >= x (!round). x must be > 0.
double nice_number(double x, bool round);

// Tick marks of an axis: first and last tick enclose [lo, hi]; step = 1, 2 or 5 x 10^k.
struct Ticks {
  double lo = 0, hi = 1, step = 0.2;
  std::vector<double> values{};  // lo, lo + step, ..., hi (values near 0 snapped to 0)
  int decimals = 1;              // digits after the point needed to tell ticks apart
};

// About `target_count` ticks spanning [lo, hi]. A degenerate range (lo == hi) is widened
// around the value; non-finite bounds give [0, 1].
Ticks nice_ticks(double lo, double hi, int target_count = 5);

// The tick value as text with the ticks' decimals ("0.25", "-1", "1500").
std::string format_tick(double value, int decimals);

// A number for an SVG attribute: fixed with at most `decimals` digits, no trailing zeros.
std::string num(double value, int decimals = 1);

// Rough width in pixels of `text` at `font_px` (no font metrics offline: 0.58 em/char).
double text_width(std::string_view text, double font_px);

// Colour palette for data series (colour-blind-friendly, Okabe-Ito order), cycling.
std::string series_color(size_t index);
// A colour on a white -> dark-blue ramp for t in [0, 1] (clamped), as "#rrggbb".
std::string heat_color(double t);

struct TextStyle {
  double size = 12;
  std::string anchor = "start";  // start | middle | end
  std::string fill = "#222";
  std::string weight = "normal";
  double rotate = 0;  // degrees, around the anchor point
  std::string css_class{};
};

// An SVG document under construction; str() closes it. All text is escaped here.
class Canvas {
 public:
  Canvas(double width, double height, std::string_view title);

  double width() const { return width_; }
  double height() const { return height_; }

  void line(double x1, double y1, double x2, double y2, std::string_view stroke,
            double stroke_width = 1, std::string_view dash = "");
  // Consecutive points joined by straight segments; fewer than 2 points draw nothing.
  void polyline(const std::vector<std::pair<double, double>>& points, std::string_view stroke,
                double stroke_width = 2, std::string_view dash = "");
  void circle(double cx, double cy, double r, std::string_view fill, std::string_view tooltip = "",
              std::string_view css_class = "", double opacity = 1);
  void rect(double x, double y, double w, double h, std::string_view fill,
            std::string_view tooltip = "", std::string_view css_class = "",
            std::string_view stroke = "");
  void text(double x, double y, std::string_view content, const TextStyle& style = {});
  // A raster image stretched over [x, x + w] x [y, y + h], pixels kept sharp (no smoothing);
  // `href` is a URL or a data: URI (png.h makes one).
  void image(double x, double y, double w, double h, std::string_view href);

  std::string str() const;

 private:
  double width_, height_;
  std::string body_;
};

// One entry of a legend: a coloured swatch (line or box) and a label.
struct LegendEntry {
  std::string label{};
  std::string color{};
  std::string dash{};  // "" = solid line / box
  bool box = false;    // a filled square instead of a line sample
};

// A rectangular data area inside a canvas with linear axes.
class PlotFrame {
 public:
  // The data area is [left, left + width] x [top, top + height] in pixels.
  PlotFrame(double left, double top, double width, double height, Ticks x_ticks, Ticks y_ticks);

  double px(double x) const;  // data -> pixel
  double py(double y) const;
  double left() const { return left_; }
  double top() const { return top_; }
  double right() const { return left_ + width_; }
  double bottom() const { return top_ + height_; }
  const Ticks& x_ticks() const { return x_; }
  const Ticks& y_ticks() const { return y_; }

  // Light grid lines, the frame, tick labels and axis titles.
  void draw_axes(Canvas& canvas, std::string_view x_label, std::string_view y_label) const;
  // Legend entries in rows just above the data area (right-aligned); a row that would
  // not fit the frame's width starts a new row above. legend_rows says how many rows.
  void draw_legend(Canvas& canvas, const std::vector<LegendEntry>& entries) const;
  static int legend_rows(const std::vector<LegendEntry>& entries, double frame_width);

 private:
  double left_, top_, width_, height_;
  Ticks x_, y_;
};

}  // namespace melgrad::svg
