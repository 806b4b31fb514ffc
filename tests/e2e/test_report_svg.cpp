// The report's SVG toolkit: nice numbers and ticks (worked by hand from Heckbert's 1/2/5
// rule), number formatting, escaping, the colour ramp, the plot frame's mapping, and the
// charts' handling of NaN, negative values and empty data.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "experiments/svg.h"
#include "experiments/svg_charts.h"

using namespace melgrad::svg;

namespace {

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("nice numbers are 1, 2, 5 or 10 times a power of ten") {
  // Tolerance 1e-12 relative: pow(10, k) is exact to a few ulps.
  CHECK(nice_number(0.23, true) == doctest::Approx(0.2).epsilon(1e-12));
  CHECK(nice_number(0.73, true) == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(nice_number(0.73, false) == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(nice_number(340, false) == doctest::Approx(500).epsilon(1e-12));
  CHECK(nice_number(340, true) == doctest::Approx(500).epsilon(1e-12));
  CHECK(nice_number(1500, true) == doctest::Approx(2000).epsilon(1e-12));
  CHECK(nice_number(1400, true) == doctest::Approx(1000).epsilon(1e-12));
  CHECK(nice_number(2, false) == doctest::Approx(2).epsilon(1e-12));
}

TEST_CASE("nice ticks enclose the range with a round step") {
  SUBCASE("unit range") {
    const Ticks t = nice_ticks(0, 1, 5);
    CHECK(t.step == doctest::Approx(0.2));
    CHECK(t.lo == 0);
    CHECK(t.hi == doctest::Approx(1));
    CHECK(t.values.size() == 6);
    CHECK(t.decimals == 1);
  }
  SUBCASE("a range across zero has an exact zero tick") {
    const Ticks t = nice_ticks(-0.35, 0.62, 5);
    CHECK(t.step == doctest::Approx(0.2));
    CHECK(t.lo == doctest::Approx(-0.4));
    CHECK(t.hi == doctest::Approx(0.8));
    REQUIRE(t.values.size() == 7);
    CHECK(t.values[2] == 0.0);
  }
  SUBCASE("bounds already on the step do not grow by rounding noise") {
    const Ticks t = nice_ticks(0.1, 0.3, 5);
    CHECK(t.step == doctest::Approx(0.05));
    CHECK(t.lo == doctest::Approx(0.1));
    CHECK(t.hi == doctest::Approx(0.3));
    CHECK(t.values.size() == 5);
    CHECK(t.decimals == 2);
  }
  SUBCASE("large values") {
    const Ticks t = nice_ticks(3, 1547, 5);
    CHECK(t.step == doctest::Approx(500));
    CHECK(t.lo == 0);
    CHECK(t.hi == doctest::Approx(2000));
    CHECK(t.decimals == 0);
  }
  SUBCASE("a single value is widened around it") {
    const Ticks t = nice_ticks(1, 1, 5);
    CHECK(t.lo <= 0.9 + 1e-12);
    CHECK(t.hi >= 1.1 - 1e-12);
    CHECK(t.lo < t.hi);
  }
  SUBCASE("non-finite bounds give the unit range") {
    const Ticks t = nice_ticks(NAN, 1, 5);
    CHECK(t.lo == 0);
    CHECK(t.hi == doctest::Approx(1));
  }
  SUBCASE("every tick is a multiple of the step") {
    for (double hi : {0.037, 0.9, 7.3, 88.0, 12345.0}) {
      const Ticks t = nice_ticks(-hi / 3, hi, 6);
      CHECK(t.lo <= -hi / 3);
      CHECK(t.hi >= hi);
      for (double v : t.values) {
        const double k = v / t.step;
        CHECK(std::abs(k - std::round(k)) < 1e-6);
      }
    }
  }
}

TEST_CASE("tick and attribute numbers print without noise") {
  CHECK(format_tick(0.30000000000000004, 1) == "0.3");
  CHECK(format_tick(-0.0, 1) == "0.0");
  CHECK(format_tick(-1e-17, 0) == "0");
  CHECK(format_tick(1500, 0) == "1500");
  CHECK(format_tick(-0.25, 2) == "-0.25");
  CHECK(num(2.50) == "2.5");
  CHECK(num(3.0) == "3");
  CHECK(num(-0.04) == "0");
  CHECK(num(12.345, 2) == "12.35");
  CHECK(num(NAN) == "0");
}

TEST_CASE("text is escaped everywhere it reaches the SVG") {
  CHECK(escape_xml("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  CHECK(escape_xml("plain ρ ≈ 0.4") == "plain ρ ≈ 0.4");
  Canvas c(100, 50, "title <1>");
  c.text(10, 10, "<evil> & co", {.fill = "red\"><script>"});
  c.circle(5, 5, 2, "#000", "tip <b>");
  c.rect(0, 0, 10, 10, "#fff", "", "cls\"x");
  const std::string svg = c.str();
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 100 50\"", 0) == 0);
  CHECK(svg.substr(svg.size() - 6) == "</svg>");
  CHECK(svg.find("<title>title &lt;1&gt;</title>") != std::string::npos);
  CHECK(svg.find("&lt;evil&gt; &amp; co") != std::string::npos);
  CHECK(svg.find("<title>tip &lt;b&gt;</title>") != std::string::npos);
  CHECK(svg.find("<script") == std::string::npos);
  CHECK(svg.find("<evil") == std::string::npos);
  CHECK(svg.find("cls&quot;x") != std::string::npos);
}

TEST_CASE("colour ramp ends and palette cycle") {
  CHECK(heat_color(0) == "#f7fbff");
  CHECK(heat_color(0.5) == "#6baed6");
  CHECK(heat_color(1) == "#08306b");
  CHECK(heat_color(-3) == heat_color(0));
  CHECK(heat_color(7) == heat_color(1));
  CHECK(heat_color(NAN) == heat_color(0));
  CHECK(series_color(0) == series_color(8));
  CHECK(series_color(0) != series_color(1));
}

TEST_CASE("plot frame maps data to pixels with y pointing up") {
  const PlotFrame f(50, 20, 200, 100, nice_ticks(0, 1), nice_ticks(0, 10));
  CHECK(f.px(0) == doctest::Approx(50));
  CHECK(f.px(1) == doctest::Approx(250));
  CHECK(f.px(0.25) == doctest::Approx(100));
  CHECK(f.py(0) == doctest::Approx(120));
  CHECK(f.py(10) == doctest::Approx(20));
  const std::vector<LegendEntry> few = {{"a", "#000"}, {"b", "#111"}};
  CHECK(PlotFrame::legend_rows(few, 200) == 1);
  const std::vector<LegendEntry> many(6, LegendEntry{"a rather long legend label", "#000"});
  CHECK(PlotFrame::legend_rows(many, 200) == 6);  // each ~180 px wide: one per row
  CHECK(PlotFrame::legend_rows({}, 200) == 0);
}

TEST_CASE("line chart breaks at NaN and marks reference lines") {
  LineChart chart{.title = "loss", .x_label = "epoch", .y_label = "loss"};
  chart.series = {{.name = "train", .x = {1, 2, 3, 4, 5}, .y = {1, 2, NAN, 3, 4}}};
  chart.horizontal = {{0.5, "chance", "#b00"}};
  const std::string svg = line_chart(chart);
  CHECK(count(svg, "<polyline") == 2);
  CHECK(count(svg, "<circle") == 4);  // markers on the finite points
  CHECK(svg.find(">chance</text>") != std::string::npos);
  // Epoch ticks are whole numbers.
  CHECK(svg.find(">1.5<") == std::string::npos);
  CHECK(svg.find(">2</text>") != std::string::npos);
  const std::string empty = line_chart(LineChart{.title = "nothing"});
  CHECK(empty.find("no data") != std::string::npos);
  CHECK(empty.find("<polyline") == std::string::npos);
}

TEST_CASE("scatter skips NaN pairs and draws the diagonal") {
  ScatterChart chart{
      .title = "valence", .x = {0.1, 0.2, NAN, 0.4, 0.5}, .y = {0.2, 0.1, 0.3, NAN, 0.6}};
  const std::string svg = scatter_chart(chart);
  CHECK(count(svg, "class=\"pt\"") == 3);
  CHECK(svg.find("stroke-dasharray=\"5 4\"") != std::string::npos);
  CHECK(scatter_chart(ScatterChart{.title = "x"}).find("no predictions") != std::string::npos);
}

TEST_CASE("heat-map colours by row share and prints counts") {
  Heatmap map{.title = "cm",
              .x_label = "predicted",
              .y_label = "true",
              .row_labels = {"a", "b"},
              .col_labels = {"a", "b"},
              .values = {{3, 1}, {0, 4}}};
  const std::string svg = heatmap_chart(map);
  CHECK(count(svg, "class=\"cell\"") == 4);
  CHECK(svg.find("fill=\"" + heat_color(0.75) +
                 "\" stroke=\"#444\" class=\"cell\"><title>true a, "
                 "predicted a: 3 (75% of a)</title>") != std::string::npos);
  CHECK(svg.find("<title>true b, predicted a: 0 (0% of b)</title>") != std::string::npos);
  CHECK(svg.find(">4</text>") != std::string::npos);
}

TEST_CASE("bar chart handles negative values, missing values and references") {
  BarChart chart{.title = "rho", .value_label = "Spearman", .categories = {"valence", "energy"}};
  chart.series = {{.name = "ours", .values = {-0.2, NAN}},
                  {.name = "published", .values = {0.4, NAN}, .label_missing = false}};
  chart.references = {{0.1, "chance", "#b00"}};
  const std::string svg = bar_chart(chart);
  CHECK(count(svg, "class=\"bar\"") == 2);
  CHECK(count(svg, ">n/a</text>") == 1);  // only the series that labels missing values
  CHECK(svg.find(">-0.200</text>") != std::string::npos);
  CHECK(svg.find(">0.400</text>") != std::string::npos);
  CHECK(svg.find(">chance</text>") != std::string::npos);
  // The axis includes zero and the negative bar.
  CHECK(svg.find(">-0.2</text>") != std::string::npos);
  CHECK(svg.find(">0.0</text>") != std::string::npos);
}
