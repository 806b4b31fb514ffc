// SVG toolkit of the study report: escaping, nice ticks, canvas and plot frame (svg.h).
#include "experiments/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace melgrad::svg {

std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    // clang-format off
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
    // clang-format on
  }
  return out;
}

double nice_number(double x, bool round) {
  const double exponent = std::floor(std::log10(x));
  const double power = std::pow(10.0, exponent);
  const double fraction = x / power;  // in [1, 10)
  double nice;
  if (round) {
    nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  } else {
    nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  }
  return nice * power;
}

Ticks nice_ticks(double lo, double hi, int target_count) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  target_count = std::max(target_count, 2);
  const double range = nice_number(hi - lo, false);
  Ticks t;
  t.step = nice_number(range / (target_count - 1), true);
  // The small slack keeps a bound that is already a multiple of the step from growing by
  // one more step through rounding noise (0.30000000000000004 / 0.1).
  t.lo = std::floor(lo / t.step + 1e-9) * t.step;
  t.hi = std::ceil(hi / t.step - 1e-9) * t.step;
  const int count = static_cast<int>(std::lround((t.hi - t.lo) / t.step));
  for (int i = 0; i <= count; ++i) {
    double v = t.lo + i * t.step;
    if (std::abs(v) < t.step * 1e-9) v = 0;
    t.values.push_back(v);
  }
  t.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(t.step) + 1e-9)));
  return t;
}

std::string format_tick(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 12), value);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos)
    s = decimals > 0 ? s.substr(s[0] == '-') : "0";
  return s;
}

std::string num(double value, int decimals) {
  if (!std::isfinite(value)) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

double text_width(std::string_view text, double font_px) {
  return 0.58 * font_px * static_cast<double>(text.size());
}

std::string series_color(size_t index) {
  static const char* const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                         "#D55E00", "#56B4E9", "#8C6D1F", "#555555"};
  return kPalette[index % (sizeof kPalette / sizeof kPalette[0])];
}

std::string heat_color(double t) {
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0);
  // White (247,251,255) -> mid blue (107,174,214) -> dark blue (8,48,107).
  auto mix = [](double a, double b, double u) { return a + (b - a) * u; };
  double r, g, b;
  if (t < 0.5) {
    const double u = t / 0.5;
    r = mix(247, 107, u), g = mix(251, 174, u), b = mix(255, 214, u);
  } else {
    const double u = (t - 0.5) / 0.5;
    r = mix(107, 8, u), g = mix(174, 48, u), b = mix(214, 107, u);
  }
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<int>(std::lround(r)),
                static_cast<int>(std::lround(g)), static_cast<int>(std::lround(b)));
  return buf;
}

// --- Canvas -------------------------------------------------------------------------

Canvas::Canvas(double width, double height, std::string_view title)
    : width_(width), height_(height) {
  body_ = "<title>" + escape_xml(title) + "</title>\n";
}

static std::string dash_attr(std::string_view dash) {
  return dash.empty() ? "" : " stroke-dasharray=\"" + escape_xml(dash) + "\"";
}

static std::string tooltip_element(std::string_view tooltip) {
  return "<title>" + escape_xml(tooltip) + "</title>";
}

void Canvas::line(double x1, double y1, double x2, double y2, std::string_view stroke,
                  double stroke_width, std::string_view dash) {
  body_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
           num(y2) + "\" stroke=\"" + escape_xml(stroke) + "\" stroke-width=\"" +
           num(stroke_width) + "\"" + dash_attr(dash) + "/>\n";
}

void Canvas::polyline(const std::vector<std::pair<double, double>>& points, std::string_view stroke,
                      double stroke_width, std::string_view dash) {
  if (points.size() < 2) return;
  std::string pts;
  for (const auto& [x, y] : points) pts += (pts.empty() ? "" : " ") + num(x) + "," + num(y);
  body_ += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + escape_xml(stroke) +
           "\" stroke-width=\"" + num(stroke_width) +
           "\" stroke-linejoin=\"round\" stroke-linecap=\"round\"" + dash_attr(dash) + "/>\n";
}

void Canvas::circle(double cx, double cy, double r, std::string_view fill, std::string_view tooltip,
                    std::string_view css_class, double opacity) {
  std::string head = "<circle cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"" + num(r) +
                     "\" fill=\"" + escape_xml(fill) + "\"";
  if (opacity < 1) head += " fill-opacity=\"" + num(opacity, 2) + "\"";
  if (!css_class.empty()) head += " class=\"" + escape_xml(css_class) + "\"";
  body_ += tooltip.empty() ? head + "/>\n" : head + ">" + tooltip_element(tooltip) + "</circle>\n";
}

void Canvas::rect(double x, double y, double w, double h, std::string_view fill,
                  std::string_view tooltip, std::string_view css_class, std::string_view stroke) {
  std::string head = "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" +
                     num(std::max(w, 0.0)) + "\" height=\"" + num(std::max(h, 0.0)) + "\" fill=\"" +
                     escape_xml(fill) + "\"";
  if (!stroke.empty()) head += " stroke=\"" + escape_xml(stroke) + "\"";
  if (!css_class.empty()) head += " class=\"" + escape_xml(css_class) + "\"";
  body_ += tooltip.empty() ? head + "/>\n" : head + ">" + tooltip_element(tooltip) + "</rect>\n";
}

void Canvas::text(double x, double y, std::string_view content, const TextStyle& style) {
  std::string el = "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" +
                   num(style.size) + "\" fill=\"" + escape_xml(style.fill) + "\"";
  if (style.anchor != "start") el += " text-anchor=\"" + escape_xml(style.anchor) + "\"";
  if (style.weight != "normal") el += " font-weight=\"" + escape_xml(style.weight) + "\"";
  if (style.rotate != 0)
    el += " transform=\"rotate(" + num(style.rotate) + " " + num(x) + " " + num(y) + ")\"";
  if (!style.css_class.empty()) el += " class=\"" + escape_xml(style.css_class) + "\"";
  body_ += el + ">" + escape_xml(content) + "</text>\n";
}

void Canvas::image(double x, double y, double w, double h, std::string_view href) {
  body_ += "<image x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(std::max(w, 0.0)) +
           "\" height=\"" + num(std::max(h, 0.0)) +
           "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"" +
           escape_xml(href) + "\"/>\n";
}

std::string Canvas::str() const {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + num(width_) + " " +
         num(height_) + "\" width=\"" + num(width_) + "\" height=\"" + num(height_) +
         "\" font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\" "
         "role=\"img\">\n" +
         body_ + "</svg>";
}

// --- PlotFrame ----------------------------------------------------------------------

PlotFrame::PlotFrame(double left, double top, double width, double height, Ticks x_ticks,
                     Ticks y_ticks)
    : left_(left),
      top_(top),
      width_(width),
      height_(height),
      x_(std::move(x_ticks)),
      y_(std::move(y_ticks)) {}

double PlotFrame::px(double x) const { return left_ + (x - x_.lo) / (x_.hi - x_.lo) * width_; }

double PlotFrame::py(double y) const {
  return top_ + height_ - (y - y_.lo) / (y_.hi - y_.lo) * height_;
}

void PlotFrame::draw_axes(Canvas& canvas, std::string_view x_label,
                          std::string_view y_label) const {
  TextStyle tick_style{.size = 11, .anchor = "middle", .fill = "#555"};
  for (double v : x_.values) {
    const double x = px(v);
    canvas.line(x, top_, x, bottom(), "#e6e6e6");
    canvas.text(x, bottom() + 15, format_tick(v, x_.decimals), tick_style);
  }
  tick_style.anchor = "end";
  double widest = 0;
  for (double v : y_.values) {
    const double y = py(v);
    const std::string label = format_tick(v, y_.decimals);
    widest = std::max(widest, text_width(label, 11));
    canvas.line(left_, y, right(), y, v == 0 && y_.lo < 0 ? "#999" : "#e6e6e6");
    canvas.text(left_ - 6, y + 4, label, tick_style);
  }
  canvas.rect(left_, top_, width_, height_, "none", "", "", "#888");
  const TextStyle title_style{.size = 12, .anchor = "middle", .fill = "#333"};
  if (!x_label.empty()) canvas.text(left_ + width_ / 2, bottom() + 33, x_label, title_style);
  if (!y_label.empty()) {
    TextStyle rotated = title_style;
    rotated.rotate = -90;
    const double x = left_ - widest - 16;
    canvas.text(x, top_ + height_ / 2, y_label, rotated);
  }
}

namespace {
constexpr double kLegendRow = 16, kLegendSwatch = 18, kLegendGap = 14, kLegendFont = 11;
double legend_entry_width(const LegendEntry& e) {
  return kLegendSwatch + 4 + text_width(e.label, kLegendFont);
}
}  // namespace

// Entries split into rows, left to right, each row no wider than the frame.
static std::vector<std::vector<const LegendEntry*>> legend_layout(
    const std::vector<LegendEntry>& entries, double frame_width) {
  std::vector<std::vector<const LegendEntry*>> rows;
  double used = 0;
  for (const LegendEntry& e : entries) {
    const double w = legend_entry_width(e);
    if (rows.empty() || (used > 0 && used + w > frame_width)) {
      rows.emplace_back();
      used = 0;
    }
    rows.back().push_back(&e);
    used += w + kLegendGap;
  }
  return rows;
}

int PlotFrame::legend_rows(const std::vector<LegendEntry>& entries, double frame_width) {
  return static_cast<int>(legend_layout(entries, frame_width).size());
}

void PlotFrame::draw_legend(Canvas& canvas, const std::vector<LegendEntry>& entries) const {
  const auto rows = legend_layout(entries, width_);
  for (size_t r = 0; r < rows.size(); ++r) {
    double row_width = -kLegendGap;
    for (const LegendEntry* e : rows[r]) row_width += legend_entry_width(*e) + kLegendGap;
    double x = right() - row_width;  // right-aligned
    const double y = top_ - 8 - static_cast<double>(rows.size() - 1 - r) * kLegendRow;
    for (const LegendEntry* e : rows[r]) {
      if (e->box) {
        canvas.rect(x + 4, y - 9, 10, 10, e->color);
      } else {
        canvas.line(x, y - 4, x + kLegendSwatch, y - 4, e->color, 2.5, e->dash);
      }
      canvas.text(x + kLegendSwatch + 4, y, e->label, {.size = kLegendFont, .fill = "#333"});
      x += legend_entry_width(*e) + kLegendGap;
    }
  }
}

}  // namespace melgrad::svg
