// Charts of the study report: line, scatter, heat-map and bar charts (svg_charts.h).
#include "experiments/svg_charts.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "experiments/svg.h"

namespace melgrad::svg {
namespace {

constexpr double kTitleBaseline = 18;
constexpr double kTitleFont = 13;

// Smallest and largest finite value of several lists; nullopt when there is none.
std::optional<std::pair<double, double>> finite_range(
    std::initializer_list<const std::vector<double>*> lists) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* list : lists)
    for (double v : *list)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (lo > hi) return std::nullopt;
  return std::make_pair(lo, hi);
}

void widen(std::optional<std::pair<double, double>>& range, double v) {
  if (!std::isfinite(v)) return;
  if (!range) range = std::make_pair(v, v);
  range->first = std::min(range->first, v);
  range->second = std::max(range->second, v);
}

// Ticks at whole numbers only (epochs): the nice step, but never below 1.
Ticks integer_ticks(double lo, double hi) {
  Ticks t = nice_ticks(lo, hi, 6);
  if (t.step >= 1) return t;
  t.step = 1;
  t.decimals = 0;
  t.lo = std::floor(lo);
  t.hi = std::max(std::ceil(hi), t.lo + 1);
  t.values.clear();
  for (double v = t.lo; v <= t.hi + 0.5; v += 1) t.values.push_back(v);
  return t;
}

double widest_label(const std::vector<std::string>& labels, double font) {
  double w = 0;
  for (const std::string& s : labels) w = std::max(w, text_width(s, font));
  return w;
}

double widest_tick(const Ticks& t, double font) {
  double w = 0;
  for (double v : t.values) w = std::max(w, text_width(format_tick(v, t.decimals), font));
  return w;
}

void draw_title(Canvas& canvas, const std::string& title) {
  canvas.text(10, kTitleBaseline, title, {.size = kTitleFont, .fill = "#111", .weight = "600"});
}

std::string format_value(double v, int decimals) {
  return std::isfinite(v) ? format_tick(v, decimals) : "n/a";
}

}  // namespace

std::string empty_chart(const std::string& title, const std::string& message, double width,
                        double height) {
  Canvas canvas(width, height, title + ": " + message);
  draw_title(canvas, title);
  canvas.rect(10, 28, width - 20, height - 38, "#fafafa", "", "", "#ccc");
  canvas.text(width / 2, 28 + (height - 38) / 2 + 4, message,
              {.size = 12, .anchor = "middle", .fill = "#777"});
  return canvas.str();
}

std::string line_chart(const LineChart& chart) {
  std::vector<double> xs, ys;
  for (const LineSeries& s : chart.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
        xs.push_back(s.x[i]), ys.push_back(s.y[i]);
  }
  if (xs.empty()) return empty_chart(chart.title, "no data", chart.width);
  auto x_range = finite_range({&xs});
  auto y_range = finite_range({&ys});
  for (const ReferenceLine& r : chart.horizontal) widen(y_range, r.value);
  for (const ReferenceLine& r : chart.vertical) widen(x_range, r.value);
  if (chart.y_range) widen(y_range, chart.y_range->first), widen(y_range, chart.y_range->second);

  const Ticks x_ticks = chart.integer_x ? integer_ticks(x_range->first, x_range->second)
                                        : nice_ticks(x_range->first, x_range->second, 6);
  const Ticks y_ticks = nice_ticks(y_range->first, y_range->second, 5);

  std::vector<LegendEntry> legend;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const LineSeries& s = chart.series[i];
    legend.push_back({s.name, s.color.empty() ? series_color(i) : s.color, s.dash});
  }
  const double left = 10 + 16 + widest_tick(y_ticks, 11) + 10;
  const double frame_width = chart.width - left - 14;
  const double top = kTitleBaseline + 10 + 16.0 * PlotFrame::legend_rows(legend, frame_width);
  const PlotFrame frame(left, top, frame_width, chart.height - top - 42, x_ticks, y_ticks);

  Canvas canvas(chart.width, chart.height, chart.title);
  draw_title(canvas, chart.title);
  frame.draw_axes(canvas, chart.x_label, chart.y_label);
  for (const ReferenceLine& r : chart.horizontal) {
    const double y = frame.py(r.value);
    canvas.line(frame.left(), y, frame.right(), y, r.color, 1.2, "5 4");
    canvas.text(frame.left() + 4, y - 4, r.label, {.size = 10, .fill = r.color});
  }
  for (const ReferenceLine& r : chart.vertical) {
    const double x = frame.px(r.value);
    canvas.line(x, frame.top(), x, frame.bottom(), r.color, 1.2, "3 3");
    canvas.text(x + 3, frame.top() + 12, r.label, {.size = 10, .fill = r.color});
  }
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const LineSeries& s = chart.series[i];
    const std::string color = legend[i].color;
    std::vector<std::pair<double, double>> segment;
    size_t points = 0;
    for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) {
      if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) {
        canvas.polyline(segment, color, 2, s.dash);
        segment.clear();
        continue;
      }
      segment.emplace_back(frame.px(s.x[k]), frame.py(s.y[k]));
      ++points;
    }
    canvas.polyline(segment, color, 2, s.dash);
    if (points <= 40) {  // markers keep short runs (a single epoch) visible
      for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k)
        if (std::isfinite(s.x[k]) && std::isfinite(s.y[k]))
          canvas.circle(frame.px(s.x[k]), frame.py(s.y[k]), 2.5, color,
                        s.name + ": " + format_tick(s.x[k], x_ticks.decimals) + ", " +
                            format_tick(s.y[k], 4));
    }
  }
  frame.draw_legend(canvas, legend);
  return canvas.str();
}

std::string scatter_chart(const ScatterChart& chart) {
  std::vector<double> xs, ys;
  std::vector<size_t> index;
  for (size_t i = 0; i < chart.x.size() && i < chart.y.size(); ++i)
    if (std::isfinite(chart.x[i]) && std::isfinite(chart.y[i]))
      xs.push_back(chart.x[i]), ys.push_back(chart.y[i]), index.push_back(i);
  if (xs.empty()) return empty_chart(chart.title, "no predictions", chart.width);

  Ticks x_ticks, y_ticks;
  if (chart.diagonal) {
    const auto both = finite_range({&xs, &ys});
    x_ticks = y_ticks = nice_ticks(both->first, both->second, 6);
  } else {
    const auto xr = finite_range({&xs}), yr = finite_range({&ys});
    x_ticks = nice_ticks(xr->first, xr->second, 6);
    y_ticks = nice_ticks(yr->first, yr->second, 6);
  }
  const double left = 10 + 16 + widest_tick(y_ticks, 11) + 10;
  const double top = kTitleBaseline + 12;
  const double side = std::min(chart.width - left - 14, chart.height - top - 42);
  const PlotFrame frame(left, top, side, side, x_ticks, y_ticks);

  Canvas canvas(chart.width, chart.height, chart.title);
  draw_title(canvas, chart.title);
  frame.draw_axes(canvas, chart.x_label, chart.y_label);
  if (chart.diagonal)
    canvas.line(frame.px(x_ticks.lo), frame.py(x_ticks.lo), frame.px(x_ticks.hi),
                frame.py(x_ticks.hi), "#999", 1.2, "5 4");
  for (size_t k = 0; k < xs.size(); ++k) {
    const std::string tip = index[k] < chart.tooltips.size() ? chart.tooltips[index[k]] : "";
    canvas.circle(frame.px(xs[k]), frame.py(ys[k]), 3, series_color(0), tip, "pt", 0.55);
  }
  return canvas.str();
}

std::string heatmap_chart(const Heatmap& chart) {
  const size_t rows = chart.values.size();
  const size_t cols = rows ? chart.values[0].size() : 0;
  if (rows == 0 || cols == 0) return empty_chart(chart.title, "no data");
  auto label = [](const std::vector<std::string>& labels, size_t i) {
    return i < labels.size() ? labels[i] : std::to_string(i);
  };
  std::vector<std::string> row_labels, col_labels;
  for (size_t r = 0; r < rows; ++r) row_labels.push_back(label(chart.row_labels, r));
  for (size_t c = 0; c < cols; ++c) col_labels.push_back(label(chart.col_labels, c));

  const double cell = chart.cell;
  const double left = 10 + 18 + widest_label(row_labels, 11) + 8;
  const double top = kTitleBaseline + 14;
  // Column labels are rotated by -45 degrees: their height is about 0.71 x their width.
  const double label_drop = 0.71 * widest_label(col_labels, 11) + 14;
  const double width = std::max(left + cols * cell + 16, text_width(chart.title, kTitleFont) + 20);
  const double height = top + rows * cell + label_drop + 30;

  double matrix_max = 0;
  for (const auto& row : chart.values)
    for (double v : row)
      if (std::isfinite(v)) matrix_max = std::max(matrix_max, v);

  Canvas canvas(width, height, chart.title);
  draw_title(canvas, chart.title);
  for (size_t r = 0; r < rows; ++r) {
    double row_sum = 0;
    for (double v : chart.values[r])
      if (std::isfinite(v)) row_sum += v;
    const double y = top + r * cell;
    canvas.text(left - 6, y + cell / 2 + 4, row_labels[r], {.size = 11, .anchor = "end"});
    for (size_t c = 0; c < cols && c < chart.values[r].size(); ++c) {
      const double v = chart.values[r][c];
      const double denom = chart.colour_by_row ? row_sum : matrix_max;
      const double share = denom > 0 && std::isfinite(v) ? v / denom : 0;
      const double x = left + c * cell;
      std::string tip = chart.y_label + " " + row_labels[r] + ", " + chart.x_label + " " +
                        col_labels[c] + ": " + format_value(v, 0);
      if (chart.colour_by_row && row_sum > 0)
        tip += " (" + format_tick(100 * share, 0) + "% of " + row_labels[r] + ")";
      canvas.rect(x, y, cell, cell, heat_color(share), tip, "cell",
                  r == c && rows == cols ? "#444" : "#fff");
      canvas.text(x + cell / 2, y + cell / 2 + 4, format_value(v, 0),
                  {.size = 11, .anchor = "middle", .fill = share > 0.55 ? "#fff" : "#222"});
    }
  }
  const double bottom = top + rows * cell;
  for (size_t c = 0; c < cols; ++c) {
    const double x = left + c * cell + cell / 2 + 4;
    canvas.text(x, bottom + 12, col_labels[c], {.size = 11, .anchor = "end", .rotate = -45});
  }
  const TextStyle axis_title{.size = 12, .anchor = "middle", .fill = "#333", .weight = "600"};
  canvas.text(left + cols * cell / 2, bottom + label_drop + 16, chart.x_label, axis_title);
  TextStyle rotated = axis_title;
  rotated.rotate = -90;
  canvas.text(16, top + rows * cell / 2, chart.y_label, rotated);
  return canvas.str();
}

std::string bar_chart(const BarChart& chart) {
  const size_t groups = chart.categories.size(), n_series = chart.series.size();
  if (groups == 0 || n_series == 0) return empty_chart(chart.title, "no data", chart.width);
  std::optional<std::pair<double, double>> range;
  widen(range, 0);
  for (const BarSeries& s : chart.series)
    for (double v : s.values) widen(range, v);
  for (const ReferenceLine& r : chart.references) widen(range, r.value);
  if (chart.value_range)
    widen(range, chart.value_range->first), widen(range, chart.value_range->second);
  const Ticks ticks = nice_ticks(range->first, range->second, 6);

  std::vector<LegendEntry> legend;
  for (size_t i = 0; i < n_series; ++i) {
    const BarSeries& s = chart.series[i];
    legend.push_back({s.name, s.color.empty() ? series_color(i) : s.color, "", true});
  }
  if (n_series == 1) legend.clear();
  const double bar = 15, group_gap = 12;
  const double left = 10 + widest_label(chart.categories, 11) + 10;
  const double frame_width = chart.width - left - 50;  // room for the value labels
  const double top = kTitleBaseline + 10 + 16.0 * PlotFrame::legend_rows(legend, frame_width);
  const double group_height = n_series * bar + group_gap;
  const double frame_height = groups * group_height + group_gap;
  // The frame's y axis is unused (categories are placed by hand); 0..1 keeps it valid.
  const PlotFrame frame(left, top, frame_width, frame_height, ticks, nice_ticks(0, 1));

  Canvas canvas(chart.width, top + frame_height + 42, chart.title);
  draw_title(canvas, chart.title);
  for (double v : ticks.values) {
    const double x = frame.px(v);
    canvas.line(x, frame.top(), x, frame.bottom(), v == 0 ? "#888" : "#e6e6e6");
    canvas.text(x, frame.bottom() + 15, format_tick(v, ticks.decimals),
                {.size = 11, .anchor = "middle", .fill = "#555"});
  }
  canvas.text(frame.left() + frame_width / 2, frame.bottom() + 33, chart.value_label,
              {.size = 12, .anchor = "middle", .fill = "#333"});
  const double zero = frame.px(0);
  for (size_t g = 0; g < groups; ++g) {
    const double y0 = frame.top() + group_gap + g * group_height;
    canvas.text(left - 8, y0 + n_series * bar / 2 + 4, chart.categories[g],
                {.size = 11, .anchor = "end"});
    for (size_t s = 0; s < n_series; ++s) {
      const double v = g < chart.series[s].values.size() ? chart.series[s].values[g] : NAN;
      const double y = y0 + s * bar;
      if (!std::isfinite(v)) {
        if (!chart.series[s].label_missing) continue;
        canvas.text(zero + 4, y + bar - 4, "n/a", {.size = 10, .fill = "#999"});
        continue;
      }
      const double x = frame.px(v);
      const std::string text = format_tick(v, chart.value_decimals);
      canvas.rect(std::min(x, zero), y + 1, std::abs(x - zero), bar - 2,
                  legend.empty() ? series_color(0) : legend[s].color,
                  chart.series[s].name + " — " + chart.categories[g] + ": " + text, "bar");
      const bool right_side = v >= 0;
      canvas.text(right_side ? x + 4 : x - 4, y + bar - 4, text,
                  {.size = 10, .anchor = right_side ? "start" : "end", .fill = "#333"});
    }
  }
  for (const ReferenceLine& r : chart.references) {
    const double x = frame.px(r.value);
    canvas.line(x, frame.top(), x, frame.bottom(), r.color, 1.3, "5 4");
    canvas.text(x + 3, frame.top() + 10, r.label, {.size = 10, .fill = r.color});
  }
  frame.draw_legend(canvas, legend);
  return canvas.str();
}

}  // namespace melgrad::svg
