// The charts of the study report, each returned as one self-contained <svg> element:
// line charts (learning curves), predicted-vs-true scatter plots, heat-maps (confusion
// matrices) and horizontal grouped bar charts (experiments side by side). Built on the
// toolkit of svg.h; NaN values are skipped (lines break, bars say "n/a").
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace melgrad::svg {

// A horizontal (or vertical, for line charts: at x) reference line with a label.
struct ReferenceLine {
  double value = 0;
  std::string label{};
  std::string color = "#999";
};

struct LineSeries {
  std::string name{};
  std::vector<double> x{}, y{};  // same length; NaN y breaks the line
  std::string color{};           // "" = palette colour by index
  std::string dash{};            // "" = solid
};

struct LineChart {
  std::string title{}, x_label{}, y_label{};
  std::vector<LineSeries> series{};
  std::vector<ReferenceLine> horizontal{};             // e.g. chance accuracy
  std::vector<ReferenceLine> vertical{};               // e.g. the best epoch
  std::optional<std::pair<double, double>> y_range{};  // forced range (still widened to fit data)
  bool integer_x = true;                               // ticks at whole numbers (epochs)
  double width = 390, height = 270;
};
std::string line_chart(const LineChart& chart);

struct ScatterChart {
  std::string title{}, x_label{}, y_label{};
  std::vector<double> x{}, y{};         // same length; pairs with a NaN are not drawn
  std::vector<std::string> tooltips{};  // empty or one per point
  bool diagonal = true;                 // the y = x line, axes share one range
  double width = 320, height = 315;
};
std::string scatter_chart(const ScatterChart& chart);

struct Heatmap {
  std::string title{}, x_label{}, y_label{};
  std::vector<std::string> row_labels{}, col_labels{};
  std::vector<std::vector<double>> values{};  // [row][col]; the number printed in the cell
  // Colour by the value's share of its row (a confusion matrix's recall) rather than of
  // the largest value in the matrix.
  bool colour_by_row = true;
  double cell = 34;  // pixels per cell side
};
std::string heatmap_chart(const Heatmap& chart);

struct BarSeries {
  std::string name{};
  std::vector<double> values{};  // one per category; NaN = missing ("n/a")
  std::string color{};           // "" = palette colour by index
  bool label_missing = true;     // print "n/a" where a value is NaN (else leave a gap)
};

// Categories run down the chart; each has one bar per series.
struct BarChart {
  std::string title{}, value_label{};
  std::vector<std::string> categories{};
  std::vector<BarSeries> series{};
  std::vector<ReferenceLine> references{};  // vertical lines at a value (e.g. chance)
  std::optional<std::pair<double, double>> value_range{};  // forced range (widened to fit)
  int value_decimals = 3;
  double width = 640;
};
std::string bar_chart(const BarChart& chart);

// A placeholder of the given size saying why there is nothing to plot.
std::string empty_chart(const std::string& title, const std::string& message, double width = 460,
                        double height = 120);

}  // namespace melgrad::svg
