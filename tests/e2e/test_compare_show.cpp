// `melgrad compare` and `melgrad show` end to end, and the pieces under them with known
// answers: the percentile bootstrap (a binomial proportion's interval, determinism, the
// full-sample estimate equal to the run's metrics), the PNG writer (decoded back with
// zlib), configuration differences, and the programs' outputs and refusals.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cmath>
#include <random>

#include "e2e_util.h"
#include "experiments/bootstrap.h"
#include "experiments/clip_figure.h"
#include "experiments/compare.h"
#include "experiments/metrics.h"
#include "experiments/png.h"

using namespace e2e;
using namespace melgrad;

namespace {

uint32_t be32(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 |
         uint32_t(uint8_t(s[at + 2])) << 8 | uint32_t(uint8_t(s[at + 3]));
}

std::vector<std::string> tiny_genre_run(const fs::path& out, const std::string& lr) {
  return {"genre",      "--data", tiny_data(),     "--beat", "--frames",  "16",
          "--channels", "1,4,8",  "--epochs",      "2",      "--lr",      lr,
          "--threads",  "2",      "--no-progress", "--out",  out.string()};
}

}  // namespace

TEST_CASE(
    "bootstrap: a proportion's interval matches the normal approximation, seeded and repeatable") {
  std::vector<int64_t> truth(400, 1), predicted(400, 1);
  for (int i = 0; i < 120; ++i) predicted[size_t(i * 3)] = 0;  // 280 of 400 right: p = 0.7
  auto acc = [&](const std::vector<int64_t>& ix) {
    return stats::accuracy_of(truth, predicted, ix);
  };
  const stats::Interval a = stats::bootstrap(400, acc, 2000, 42);
  CHECK(a.estimate == doctest::Approx(0.7));
  // 1.96 * sqrt(0.7 * 0.3 / 400) = 0.0449; the percentile interval's Monte Carlo error with
  // 2000 resamples is about 0.004.
  CHECK(a.low == doctest::Approx(0.7 - 0.0449).epsilon(0.012));
  CHECK(a.high == doctest::Approx(0.7 + 0.0449).epsilon(0.012));
  const stats::Interval again = stats::bootstrap(400, acc, 2000, 42);
  CHECK(again.low == a.low);
  CHECK(again.high == a.high);
  const stats::Interval other = stats::bootstrap(400, acc, 2000, 43);
  CHECK((other.low != a.low || other.high != a.high));
  CHECK_THROWS_AS(stats::bootstrap(0, acc), std::invalid_argument);
}

TEST_CASE("bootstrap statistics on all items equal the study's metrics") {
  std::mt19937_64 rng(5);
  std::vector<int64_t> truth(200), predicted(200);
  std::vector<double> x(200), y(200);
  for (size_t i = 0; i < 200; ++i) {
    truth[i] = int64_t(rng() % 10);
    predicted[i] = rng() % 3 == 0 ? truth[i] : int64_t(rng() % 10);
    x[i] = double(rng() % 1000) / 1000.0;
    y[i] = x[i] + double(rng() % 1000) / 2000.0;
  }
  std::vector<int64_t> all(200);
  for (int64_t i = 0; i < 200; ++i) all[size_t(i)] = i;
  const std::vector<std::string> classes = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
  const metrics::ClassificationReport r = metrics::classification_report(truth, predicted, classes);
  CHECK(stats::accuracy_of(truth, predicted, all) == doctest::Approx(r.accuracy).epsilon(1e-12));
  CHECK(stats::macro_f1_of(truth, predicted, 10, all) ==
        doctest::Approx(r.macro_f1).epsilon(1e-12));
  CHECK(stats::spearman_of(x, y, all) ==
        doctest::Approx(metrics::spearman(x, y).rho).epsilon(1e-12));
}

TEST_CASE("png: the file decodes back to the pixels written") {
  png::Image im{5, 3, {}};
  for (int i = 0; i < 5 * 3 * 3; ++i) im.rgb.push_back(uint8_t(i * 7));
  const std::string bytes = png::encode(im);
  REQUIRE(bytes.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(bytes.substr(12, 4) == "IHDR");
  CHECK(be32(bytes, 16) == 5);
  CHECK(be32(bytes, 20) == 3);
  const size_t idat = bytes.find("IDAT");
  REQUIRE(idat != std::string::npos);
  const uint32_t len = be32(bytes, idat - 4);
  std::vector<uint8_t> raw(3 * (5 * 3 + 1));
  uLongf raw_size = uLongf(raw.size());
  REQUIRE(uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(bytes.data() + idat + 4),
                     len) == Z_OK);
  REQUIRE(raw_size == raw.size());
  for (int row = 0; row < 3; ++row) {
    CHECK(raw[size_t(row * 16)] == 0);  // filter type "none"
    for (int k = 0; k < 15; ++k)
      CHECK(raw[size_t(row * 16 + 1 + k)] == im.rgb[size_t(row * 15 + k)]);
  }
  CHECK(bytes.substr(bytes.size() - 8, 4) == "IEND");
  CHECK(png::base64("Man") == "TWFu");
  CHECK(png::base64("Ma") == "TWE=");
  CHECK_THROWS_AS(png::encode(png::Image{2, 2, std::vector<uint8_t>(5)}), std::invalid_argument);
}

TEST_CASE("heat images put row 0 at the bottom and span the colour map") {
  const png::Image im = figures::heat_image({0.0f, 0.0f, 1.0f, 1.0f}, 2, 2, 0.0, 1.0);
  uint8_t lo[3], hi[3];
  figures::magma(0.0, lo);
  figures::magma(1.0, hi);
  CHECK(im.rgb[0] == hi[0]);  // top-left pixel: row 1 (value 1)
  CHECK(im.rgb[6] == lo[0]);  // bottom-left pixel: row 0 (value 0)
  CHECK_THROWS_AS(figures::clip_svg(std::vector<float>(50 * 3), 50, 3, {}), std::invalid_argument);
}

TEST_CASE(
    "show draws a clip as SVG with axes and colour bars, or as a bare PNG; refuses to overwrite") {
  fs::path clip;
  for (const auto& e :
       fs::directory_iterator(fs::path(tiny_data()) / "fma_genre_spectrograms" / "train")) {
    clip = e.path();
    break;
  }
  const fs::path svg = scratch() / "clip.svg", pngf = scratch() / "clip.png";
  Result r = run({"show", clip.string(), "--out", svg.string()});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const std::string text = read_text(svg);
  CHECK(text.find("<svg") == 0);
  CHECK(text.find("data:image/png;base64,") != std::string::npos);
  CHECK(text.find("mel band") != std::string::npos);
  CHECK(text.find("pitch class") != std::string::npos);
  CHECK(text.find("-80 dB") != std::string::npos);
  CHECK(run({"show", clip.string(), "--out", svg.string()}).code == 2);
  CHECK(run({"show", clip.string(), "--out", svg.string(), "--force"}).code == 0);

  r = run({"show", clip.string(), "--out", pngf.string()});
  REQUIRE(r.code == 0);
  const std::string bytes = read_text(pngf);
  const auto frames = uint32_t(std::stoul(r.out.substr(r.out.find(" x ") + 3)));
  CHECK(be32(bytes, 16) == frames);
  CHECK(be32(bytes, 20) == 128 * 2 + 2 + 12 * 8);

  r = run({"show", (scratch() / "missing.npy").string(), "--out", (scratch() / "m.svg").string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("missing.npy") != std::string::npos);
  CHECK(run({"show", clip.string(), "--out", (scratch() / "clip.jpg").string()}).code == 2);
}

TEST_CASE("compare puts two runs side by side: the differing setting, intervals, curves") {
  const fs::path a = scratch() / "cmp-a", b = scratch() / "cmp-b";
  Result r = run(tiny_genre_run(a, "0.001"));
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  r = run(tiny_genre_run(b, "0.003"));
  REQUIRE(r.code == 0);
  const fs::path html = scratch() / "cmp.html";
  r = run({"compare", a.string(), b.string(), "--out", html.string()});
  REQUIRE(r.code == 0);
  const std::string page = read_text(html), md = read_text(scratch() / "cmp.md");
  CHECK(page.find("cmp-a") != std::string::npos);
  CHECK(page.find("cmp-b") != std::string::npos);
  CHECK(page.find("<svg") != std::string::npos);
  CHECK(page.find("<script") == std::string::npos);
  // The only setting that differs is the learning rate (and the output folder is not a setting).
  CHECK(md.find("\n| lr ") != std::string::npos);
  CHECK(md.find("\n| epochs ") == std::string::npos);
  CHECK(md.find("\n| seed ") == std::string::npos);
  // The accuracy cell: the run's own test accuracy with an interval around it.
  const nlohmann::json m = read_json(a / "metrics.json");
  char acc[32];
  std::snprintf(acc, sizeof acc, "%.3f [", m.at("accuracy").get<double>());
  CHECK(md.find(acc) != std::string::npos);

  CHECK(run({"compare", a.string(), b.string(), "--out", html.string()}).code == 2);
  r = run({"compare", a.string(), tiny_data(), "--out", (scratch() / "x.html").string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("neither a study folder") != std::string::npos);
}

TEST_CASE("config differences name nested keys and absent values") {
  report::ExperimentRun x, y;
  x.config = {
      {"lr", 0.1}, {"model_config", {{"dropout", 0.2}, {"hidden", 100}}}, {"started", "t1"}};
  y.config = {{"lr", 0.1}, {"model_config", {{"dropout", 0.5}}}, {"started", "t2"}};
  const auto d = report::config_differences({&x, &y});
  REQUIRE(d.size() == 2);
  CHECK(d[0].key == "model_config.dropout");
  CHECK(d[0].values == std::vector<std::string>{"0.2", "0.5"});
  CHECK(d[1].key == "model_config.hidden");
  CHECK(d[1].values[1] == "(absent)");
}

TEST_CASE(
    "the report's data section draws a clip per genre and counts classes, lengths and targets") {
  report::StudyData study;
  study.dataset.known = true;
  study.dataset.path = tiny_data();
  const report::Section s = report::eda_section(study);
  size_t clip_figures = 0, beat_figures = 0;
  bool dropped_row = false, lengths = false, correlations = false;
  for (const report::Block& b : s.blocks) {
    if (const auto* row = std::get_if<report::FigureRow>(&b)) {
      for (const report::Figure& f : *row) {
        clip_figures += f.svg.find("mel band") != std::string::npos;
        beat_figures += f.svg.find(">beat<") != std::string::npos;
        correlations = correlations || f.svg.find("Spearman correlation") != std::string::npos;
      }
    } else if (const auto* t = std::get_if<report::Table>(&b)) {
      for (const auto& cells : t->rows)
        dropped_row = dropped_row || (cells.size() == 3 && cells[2].text == "dropped");
    } else if (const auto* p = std::get_if<report::Paragraph>(&b)) {
      lengths = lengths || p->text.find("Full clip lengths") != std::string::npos;
      INFO(p->text);
      CHECK_FALSE(p->note);  // nothing failed to render
    }
  }
  CHECK(clip_figures == 20);  // 10 classes, full and beat-synchronised
  CHECK(beat_figures == 10);
  CHECK(dropped_row);  // Indie-Rock, Post-Punk, ... are dropped by CLASS_MAPPING
  CHECK(lengths);
  CHECK(correlations);

  study.dataset.path = (scratch() / "no-such-data").string();
  const report::Section missing = report::eda_section(study);
  REQUIRE(missing.blocks.size() == 1);
  CHECK(std::get<report::Paragraph>(missing.blocks[0]).text.find("no-such-data") !=
        std::string::npos);
}
