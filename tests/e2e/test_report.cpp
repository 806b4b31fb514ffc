// The study report end to end: a fake study folder (JSON files written here from seeded
// random predictions, metrics computed with experiments/metrics.h) is rendered, and the
// HTML and Markdown are checked for concrete content — well-formed tags, escaped data,
// our numbers beside the published ones, confusion-matrix cells, scatter points, notes
// for missing experiments and files, NaN as n/a — and malformed input must give errors
// naming the file. Set MELGRAD_KEEP_REPORT=1 to keep the rendered sample (path printed).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "experiments/metrics.h"
#include "experiments/report.h"
#include "experiments/report_study.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace melgrad;

namespace {

const std::vector<std::string> kClasses = {"Blues", "Classical", "Electronic", "Folk", "Hip-Hop",
                                           "Jazz",  "Metal",     "Pop",        "Rock", "Trip-Hop"};
const std::string kEvilTitle = "CNN on mel <script>alert('x')</script> & \"full\" clips";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

void write_json(const fs::path& p, const json& j) { write_text(p, j.dump(2)); }

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The part of the HTML between `start` (first occurrence) and the next `end`.
std::string slice(const std::string& html, const std::string& start, const std::string& end) {
  const size_t a = html.find(start);
  REQUIRE_MESSAGE(a != std::string::npos, "not found: " << start);
  const size_t b = html.find(end, a);
  REQUIRE(b != std::string::npos);
  return html.substr(a, b - a);
}

// The <svg> element whose <title> starts with `title`.
std::string svg_titled(const std::string& html, const std::string& title) {
  const size_t t = html.find("<title>" + title);
  REQUIRE_MESSAGE(t != std::string::npos, "no svg titled " << title);
  const size_t a = html.rfind("<svg", t);
  const size_t b = html.find("</svg>", t);
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  return html.substr(a, b + 6 - a);
}

// The table row (<tr>...</tr>) that contains `label`.
std::string row_with(const std::string& html, const std::string& label) {
  const size_t at = html.find(label);
  REQUIRE_MESSAGE(at != std::string::npos, "no row with " << label);
  const size_t a = html.rfind("<tr>", at);
  const size_t b = html.find("</tr>", at);
  return html.substr(a, b - a);
}

// Every tag closed in order (void tags written as <x/>); text holds no bare '<'.
// Returns "" when well-formed, else what is wrong.
std::string tag_balance_problem(const std::string& html) {
  std::vector<std::string> open;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    if (html.compare(i, 9, "<!DOCTYPE") == 0 || html.compare(i, 4, "<!--") == 0) {
      i = html.find('>', i);
      continue;
    }
    const size_t close = html.find('>', i);
    if (close == std::string::npos) return "unterminated tag at " + std::to_string(i);
    std::string tag = html.substr(i + 1, close - i - 1);
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    std::string name = tag.substr(closing, tag.find_first_of(" \t\n/", closing) - closing);
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0])))
      return "bare '<' in text at " + std::to_string(i) + ": " + html.substr(i, 30);
    if (closing) {
      if (open.empty() || open.back() != name)
        return "</" + name + "> closes <" + (open.empty() ? "nothing" : open.back()) + ">";
      open.pop_back();
    } else if (!self_closing) {
      open.push_back(name);
      if (name == "style") {  // CSS may hold '>' (child selectors): skip to its end
        i = html.find("</style>", close);
        continue;
      }
    }
    i = close + 1;
  }
  return open.empty() ? "" : "<" + open.back() + "> never closed";
}

// A study folder with a representative mix: finished runs of every kind, a run without
// its log and predictions, a listed run whose folder is missing, an unknown kind, a
// constant-prediction regression (NaN Spearman), and standard experiments not listed.
struct FakeStudy {
  fs::path dir;
  std::mt19937 rng{20240501};
  json experiments = json::array();
  json study_metrics = json::object();

  FakeStudy() {
    dir = fs::temp_directory_path() / ("melgrad-test-report-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~FakeStudy() {
    if (!std::getenv("MELGRAD_KEEP_REPORT")) fs::remove_all(dir);
  }

  double uniform() { return std::uniform_real_distribution<double>(0, 1)(rng); }

  void list(const std::string& name, const std::string& kind, const std::string& title) {
    experiments.push_back({{"name", name}, {"kind", kind}, {"title", title}, {"dir", name}});
  }

  json config(const std::string& command, const std::string& model, const std::string& features,
              bool beat, const std::vector<std::string>& targets) {
    json c = {{"command", command},
              {"model", model},
              {"features", features},
              {"beat", beat},
              {"epochs", 8},
              {"batch_size", 32},
              {"lr", 1e-4},
              {"weight_decay", 1e-6},
              {"seed", 42},
              {"device", "cpu"},
              {"data", {{"path", "/data/synth"}, {"synthetic", true}, {"name", "synthetic"}}}};
    if (command == "genre")
      c["classes"] = kClasses;
    else
      c["targets"] = targets;
    return c;
  }

  void write_log(const fs::path& run, int epochs, bool genre,
                 const std::vector<std::string>& targets) {
    std::string text;
    double best = INFINITY;
    for (int e = 1; e <= epochs; ++e) {
      const double val = 2.0 / (1 + 0.4 * e) + 0.05 * uniform();
      json line = {{"epoch", e},        {"train_loss", 2.2 / (1 + 0.6 * e)},
                   {"val_loss", val},   {"lr", 1e-4},
                   {"seconds", 3.5},    {"clips_per_s", 120.0},
                   {"best", val < best}};
      best = std::min(best, val);
      if (genre) {
        line["val_accuracy"] = 0.1 + 0.04 * e;
      } else {
        for (const std::string& t : targets) line["val_spearman"][t] = 0.05 * e + 0.02 * uniform();
      }
      text += line.dump() + "\n";
    }
    write_text(run / "log.jsonl", text);
  }

  // A genre run: truth cycles through the classes, prediction is right with p_correct.
  json add_genre(const std::string& name, const std::string& title, const std::string& model,
                 const std::string& features, bool beat, double p_correct, bool with_files = true) {
    list(name, "genre", title);
    const fs::path run = dir / name;
    std::vector<int64_t> truth, predicted;
    std::vector<std::string> ids;
    for (int i = 0; i < 60; ++i) {
      truth.push_back(i % 10);
      predicted.push_back(uniform() < p_correct ? i % 10
                                                : static_cast<int64_t>(uniform() * 10) % 10);
      ids.push_back(std::to_string(1000 + i));
    }
    const metrics::ClassificationReport r =
        metrics::classification_report(truth, predicted, kClasses);
    json per_class = json::object();
    for (size_t c = 0; c < kClasses.size(); ++c)
      per_class[kClasses[c]] = {{"precision", r.precision[c]},
                                {"recall", r.recall[c]},
                                {"f1", r.f1[c]},
                                {"support", r.support[c]}};
    json m = {{"accuracy", r.accuracy}, {"macro_f1", r.macro_f1}, {"weighted_f1", r.weighted_f1},
              {"classes", kClasses},    {"per_class", per_class}, {"confusion", r.confusion},
              {"test_clips", 60},       {"best_epoch", 6},        {"epochs_run", 8},
              {"train_seconds", 95.5}};
    write_json(run / "config.json", config("genre", model, features, beat, {}));
    write_json(run / "metrics.json", m);
    if (with_files) {
      write_log(run, 8, true, {});
      write_json(run / "predictions.json",
                 {{"classes", kClasses}, {"ids", ids}, {"truth", truth}, {"predicted", predicted}});
    }
    study_metrics[name] = m;
    return m;
  }

  // A regression run with n test clips; prediction = truth * quality + noise (or constant).
  json add_regression(const std::string& name, const std::string& kind, const std::string& title,
                      const std::string& model, const std::vector<std::string>& targets, size_t n,
                      double quality, bool constant = false) {
    list(name, kind, title);
    const fs::path run = dir / name;
    json truth, predicted, rho, pvalue, mse;
    double rho_sum = 0;
    for (const std::string& t : targets) {
      std::vector<double> y, p;
      for (size_t i = 0; i < n; ++i) {
        y.push_back(uniform());
        p.push_back(constant ? 0.5 : quality * y.back() + (1 - quality) * uniform());
      }
      const metrics::SpearmanResult s = metrics::spearman(y, p);
      double err = 0;
      for (size_t i = 0; i < n; ++i) err += (y[i] - p[i]) * (y[i] - p[i]);
      truth[t] = y, predicted[t] = p;
      rho[t] = s.rho, pvalue[t] = s.pvalue, mse[t] = err / static_cast<double>(n);  // NaN -> null
      rho_sum += s.rho;
    }
    json m = {{"spearman", rho}, {"pvalue", pvalue},
              {"mse", mse},      {"mean_spearman", rho_sum / static_cast<double>(targets.size())},
              {"test_clips", n}, {"best_epoch", 5},
              {"epochs_run", 9}, {"train_seconds", 61.0}};
    write_json(run / "config.json", config(kind, model, "mel", kind == "transfer", targets));
    write_json(run / "metrics.json", m);
    write_log(run, 9, false, targets);
    std::vector<std::string> ids;
    for (size_t i = 0; i < n; ++i) ids.push_back(std::to_string(2000 + i));
    write_json(run / "predictions.json",
               {{"targets", targets}, {"ids", ids}, {"truth", truth}, {"predicted", predicted}});
    study_metrics[name] = m;
    return m;
  }

  void finish() {
    write_json(dir / "study.json", {{"dataset",
                                     {{"path", "/home/user/.cache/melgrad/synthetic-42"},
                                      {"synthetic", true},
                                      {"name", "synthetic patreco3 (small, seed 42)"}}},
                                    {"device", "cpu"},
                                    {"started", "2024-05-01T10:00:00Z"},
                                    {"seconds", 754.2},
                                    {"experiments", experiments}});
    write_json(dir / "metrics.json", study_metrics);
  }
};

struct Rendered {
  FakeStudy study;
  json cnn_mel, cnn_valence, lstm_valence, multitask;
  std::string html, markdown;
  report::ReportFiles files;

  // Three grid cells, written out of order; the one with the lowest validation loss is kept.
  void add_grid() {
    study.list("grid-lstm-valence", "grid", "LSTM regression grid");
    auto row = [](int hidden, int layers, double lr, const char* loss, double val, double rho) {
      return json{
          {"hidden", hidden},
          {"layers", layers},
          {"lr", lr},
          {"loss", loss},
          {"target", "valence"},
          {"best_val_loss", val},
          {"spearman", rho},
          {"dir", "h" + std::to_string(hidden) + "-l" + std::to_string(layers) + "-" + loss}};
    };
    const json rows = {row(200, 2, 1e-5, "mse", 0.071, 0.21), row(600, 3, 5e-6, "l1", 0.052, 0.33),
                       row(200, 5, 1e-5, "smooth_l1", 0.064, 0.27)};
    const fs::path run = study.dir / "grid-lstm-valence";
    write_json(run / "grid.json", {{"rows", rows}, {"best", rows[1]}});
    write_json(run / "metrics.json", {{"spearman", {{"valence", 0.33}}}, {"best", rows[1]}});
  }

  Rendered() {
    cnn_mel = study.add_genre("genre-cnn-mel", kEvilTitle, "cnn", "mel", false, 0.6);
    study.add_genre("genre-lstm-mel", "LSTM on mel, full clips", "lstm", "mel", false, 0.3, false);
    study.add_genre("genre-cnn-mel-beat", "CNN on beat-synced mel", "cnn", "mel", true, 0.45);
    study.list("genre-lstm-fused-beat", "genre", "LSTM on fused features (interrupted)");
    cnn_valence = study.add_regression("regress-cnn-valence", "regress", "CNN valence", "cnn",
                                       {"valence"}, 40, 0.7);
    study.add_regression("regress-cnn-energy", "regress", "CNN energy", "cnn", {"energy"}, 40, 0.8);
    study.add_regression("regress-cnn-danceability", "regress", "CNN danceability", "cnn",
                         {"danceability"}, 40, 0.6);
    lstm_valence = study.add_regression("regress-lstm-valence", "regress", "LSTM valence", "lstm",
                                        {"valence"}, 42, 0, true);
    study.add_regression("transfer-valence", "transfer", "CNN from genre, valence", "cnn",
                         {"valence"}, 41, 0.75);
    multitask = study.add_regression("multitask", "multitask", "Multitask CNN", "cnn",
                                     {"valence", "energy", "danceability"}, 43, 0.7);
    add_grid();
    study.list("mystery", "clustering", "An experiment kind from the future");
    write_json(study.dir / "mystery" / "metrics.json", {{"silhouette", 0.51234}, {"clusters", 7}});
    study.finish();
    files = report::write_study_report(study.dir.string());
    html = read_text(files.html);
    markdown = read_text(files.markdown);
    if (std::getenv("MELGRAD_KEEP_REPORT")) MESSAGE("sample report: " << files.html);
  }
};

std::string fmt3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

TEST_CASE("report files are written beside study.json, atomically, and are well-formed") {
  Rendered r;
  CHECK(r.files.html == (r.study.dir / "report.html").string());
  CHECK(r.files.markdown == (r.study.dir / "report.md").string());
  for (const auto& entry : fs::directory_iterator(r.study.dir))
    CHECK_MESSAGE(entry.path().filename().string().find(".tmp") == std::string::npos,
                  "temp file left: " << entry.path());
  CHECK(tag_balance_problem(r.html) == "");
  CHECK(count(r.html, "<svg") == count(r.html, "</svg>"));
  CHECK(count(r.html, "<svg") >= 25);  // curves, confusion, scatter and bar charts
  // Data text is escaped: the experiment title's markup never reaches the page as markup.
  CHECK(r.html.find("<script") == std::string::npos);
  CHECK(r.html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;full&quot;") !=
        std::string::npos);
  // Self-contained: the only URL is the SVG namespace.
  CHECK(count(r.html, "http") == count(r.html, "xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK(r.html.find("<link") == std::string::npos);
  CHECK(r.html.find(" src=") == std::string::npos);
}

TEST_CASE("the header says clearly that the data set is synthetic, with device, date and time") {
  Rendered r;
  const std::string header = slice(r.html, "<header", "</header>");
  CHECK(header.find("banner synthetic") != std::string::npos);
  CHECK(header.find("SYNTHETIC DATA") != std::string::npos);
  CHECK(header.find("synthetic patreco3 (small, seed 42)") != std::string::npos);
  CHECK(header.find("/home/user/.cache/melgrad/synthetic-42") != std::string::npos);
  CHECK(header.find("2024-05-01T10:00:00Z") != std::string::npos);
  CHECK(header.find("12 min 34 s") != std::string::npos);  // 754.2 s
  CHECK(row_with(header, "Device").find("cpu") != std::string::npos);
  CHECK(r.markdown.find("> **SYNTHETIC DATA") != std::string::npos);
}

TEST_CASE("the summary puts our numbers beside the published ones, columns labelled by data set") {
  Rendered r;
  const std::string summary = slice(r.html, "id=\"summary\"", "</section>");
  CHECK(summary.find("Ours — synthetic embedded data set") != std::string::npos);
  CHECK(summary.find("Seed report (published, real patreco3)") != std::string::npos);
  CHECK(summary.find("Other lab solutions (published, real patreco3)") != std::string::npos);

  const std::string cnn = row_with(summary, "Genre accuracy — CNN, mel, full clips");
  CHECK(cnn.find(fmt3(r.cnn_mel["accuracy"].get<double>())) != std::string::npos);
  CHECK(cnn.find("≈ 0.43") != std::string::npos);
  CHECK(cnn.find("≈ 0.45") != std::string::npos);
  const std::string lstm = row_with(summary, "Genre accuracy — LSTM, mel, full clips");
  CHECK(lstm.find("≈ 0.36") != std::string::npos);
  const std::string valence = row_with(summary, "Valence Spearman — CNN, no transfer");
  CHECK(valence.find(fmt3(r.cnn_valence["spearman"]["valence"].get<double>())) !=
        std::string::npos);
  CHECK(valence.find("≈ 0.40") != std::string::npos);
  CHECK(row_with(summary, "Valence Spearman — CNN with transfer").find("≈ 0.49") !=
        std::string::npos);
  const std::string mt = row_with(summary, "Multitask Spearman — energy");
  CHECK(mt.find(fmt3(r.multitask["spearman"]["energy"].get<double>())) != std::string::npos);
  CHECK(mt.find("0.596") != std::string::npos);
  CHECK(mt.find("0.794") != std::string::npos);
  CHECK(row_with(summary, "Multitask Spearman — mean").find("0.744") != std::string::npos);
  CHECK(row_with(summary, "LSTM, one model per attribute").find("0.471") != std::string::npos);
  // The LSTM fused run is listed but has no folder; the chroma run is not listed at all.
  CHECK(row_with(summary, "LSTM, fused mel+chroma").find("not run") != std::string::npos);
  CHECK(row_with(summary, "LSTM, chroma").find("not run") != std::string::npos);
  // Our experiment's name links to its section.
  CHECK(cnn.find("<a href=\"#run-genre-cnn-mel\">genre-cnn-mel</a>") != std::string::npos);
  CHECK(r.html.find("id=\"run-genre-cnn-mel\"") != std::string::npos);

  // The same rows in Markdown, as a padded table.
  const size_t md_row = r.markdown.find("| Genre accuracy — CNN, mel, full clips");
  REQUIRE(md_row != std::string::npos);
  const std::string line = r.markdown.substr(md_row, r.markdown.find('\n', md_row) - md_row);
  CHECK(line.find(fmt3(r.cnn_mel["accuracy"].get<double>())) != std::string::npos);
  CHECK(line.find("≈ 0.43") != std::string::npos);
  CHECK(r.markdown.find("<svg") == std::string::npos);
  // Data text cannot become HTML when the Markdown is rendered: '<' is backslash-escaped.
  CHECK(count(r.markdown, "\\<script>") >= 1);
  CHECK(count(r.markdown, "<script") == count(r.markdown, "\\<script"));
}

TEST_CASE("the confusion matrix heat-map has each count in its cell, class names on the axes") {
  Rendered r;
  const std::string map = svg_titled(r.html, "genre-cnn-mel: confusion matrix");
  const auto confusion = r.cnn_mel["confusion"].get<std::vector<std::vector<int64_t>>>();
  int64_t total = 0;
  for (size_t t = 0; t < kClasses.size(); ++t)
    for (size_t p = 0; p < kClasses.size(); ++p) {
      total += confusion[t][p];
      // Each cell's tooltip names its row and column and carries the count; the count is
      // also the text drawn in the cell right after it.
      const std::string tip = "<title>true " + kClasses[t] + ", predicted " + kClasses[p] + ": " +
                              std::to_string(confusion[t][p]);
      const size_t at = map.find(tip);
      REQUIRE_MESSAGE(at != std::string::npos, tip);
      const size_t text = map.find("<text", at);
      CHECK(map.substr(map.find('>', text) + 1, std::to_string(confusion[t][p]).size() + 1) ==
            std::to_string(confusion[t][p]) + "<");
    }
  CHECK(total == 60);
  CHECK(count(map, "class=\"cell\"") == 100);
  for (const std::string& c : kClasses) CHECK(count(map, ">" + c + "</text>") == 2);  // both axes
  // Markdown carries the matrix as a table: the Blues row starts with Blues' diagonal count.
  CHECK(r.markdown.find("| true \\ predicted") != std::string::npos);
}

TEST_CASE("scatter plots have one point per prediction, the diagonal, and rho in the title") {
  Rendered r;
  const std::string rho = fmt3(r.cnn_valence["spearman"]["valence"].get<double>());
  const std::string scatter = svg_titled(r.html, "valence — ρ = " + rho + " (n = 40)");
  CHECK(count(scatter, "class=\"pt\"") == 40);
  CHECK(scatter.find("stroke-dasharray") != std::string::npos);  // the y = x line
  for (const char* target : {"valence", "energy", "danceability"}) {
    const double v = r.multitask["spearman"][target].get<double>();
    const std::string s =
        svg_titled(r.html, std::string(target) + " — ρ = " + fmt3(v) + " (n = 43)");
    CHECK(count(s, "class=\"pt\"") == 43);
  }
  // Learning curves: one loss chart per run with a log, with both series.
  const std::string curve = svg_titled(r.html, "regress-cnn-valence: loss per epoch");
  CHECK(curve.find("train loss") != std::string::npos);
  CHECK(curve.find("validation loss") != std::string::npos);
  CHECK(count(curve, "<polyline") == 2);
  CHECK(curve.find("best epoch 5") != std::string::npos);
}

TEST_CASE("missing experiments, missing files, unknown kinds and NaN are reported, not fatal") {
  Rendered r;
  const std::string lstm = slice(r.html, "id=\"run-genre-lstm-mel\"", "</details>");
  CHECK(lstm.find("no training log (log.jsonl not found)") != std::string::npos);
  CHECK(lstm.find("no test predictions (predictions.json not found)") != std::string::npos);
  CHECK(lstm.find("genre-lstm-mel: confusion matrix") != std::string::npos);  // from metrics.json
  const std::string fused = slice(r.html, "id=\"run-genre-lstm-fused-beat\"", "</details>");
  CHECK(fused.find("not found") != std::string::npos);
  CHECK(fused.find("no metrics") != std::string::npos);
  CHECK(row_with(r.html, "genre-lstm-fused-beat</a></td><td>genre").find("not run") !=
        std::string::npos);
  const std::string experiments = slice(r.html, "id=\"experiments\"", "</section>");
  CHECK(experiments.find("Not run in this study") != std::string::npos);
  CHECK(experiments.find("regress-lstm-energy") != std::string::npos);
  CHECK(experiments.find("genre-lstm-chroma-beat") != std::string::npos);
  // The constant LSTM prediction has an undefined Spearman: null in JSON, n/a on the page.
  const json written =
      json::parse(read_text(r.study.dir / "regress-lstm-valence" / "metrics.json"));
  CHECK(written["spearman"]["valence"].is_null());
  CHECK(row_with(r.html, "<td>regress-lstm-valence</td><td>lstm").find("n/a") != std::string::npos);
  // The unknown kind is shown with its raw metrics.
  const std::string other = slice(r.html, "id=\"other\"", "</section>");
  CHECK(other.find("unknown experiment kind &#39;clustering&#39;") != std::string::npos);
  CHECK(other.find("0.5123") != std::string::npos);
  CHECK(r.markdown.find("no training log (log.jsonl not found)") != std::string::npos);
}

TEST_CASE("the grid table lists the cells by validation loss and marks the kept one") {
  Rendered r;
  const std::string grid = slice(r.html, "id=\"grid\"", "</section>");
  const size_t best = grid.find("<td class=\"num\">0.0520</td>");
  const size_t second = grid.find("<td class=\"num\">0.0640</td>");
  const size_t third = grid.find("<td class=\"num\">0.0710</td>");
  REQUIRE(best != std::string::npos);
  CHECK(best < second);
  CHECK(second < third);
  CHECK(row_with(grid, "<td class=\"num\">0.0520</td>").find(">kept<") != std::string::npos);
  CHECK(row_with(grid, "<td class=\"num\">0.0640</td>").find(">kept<") == std::string::npos);
  CHECK(row_with(grid, "<td class=\"num\">600</td>").find("smooth_l1") == std::string::npos);
  CHECK(r.markdown.find("## LSTM regression grid") != std::string::npos);
}

TEST_CASE("malformed or mistyped JSON gives an error naming the file and the problem") {
  FakeStudy study;
  study.add_genre("genre-cnn-mel", "CNN", "cnn", "mel", false, 0.5);
  study.finish();
  const fs::path metrics = study.dir / "genre-cnn-mel" / "metrics.json";
  write_text(metrics, "{\"accuracy\": 0.5,");
  CHECK_THROWS_WITH_AS(report::write_study_report(study.dir.string()),
                       doctest::Contains((metrics.string() + ": malformed JSON").c_str()),
                       report::ReportError);
  write_text(metrics, "{\"accuracy\": \"high\"}");
  CHECK_THROWS_WITH_AS(
      report::write_study_report(study.dir.string()),
      doctest::Contains((metrics.string() +
                         ": field 'accuracy' should be a number (or null for NaN), "
                         "found string \"high\"")
                            .c_str()),
      report::ReportError);
  write_text(metrics, "{\"accuracy\": 0.5, \"classes\": [\"a\", \"b\"], \"confusion\": [[1, 2]]}");
  CHECK_THROWS_WITH_AS(report::write_study_report(study.dir.string()),
                       doctest::Contains("field 'confusion' should be 2 x 2"), report::ReportError);
  write_text(metrics, "{\"classes\": [\"a\"], \"per_class\": {\"a\": {\"support\": 2.5}}}");
  CHECK_THROWS_WITH_AS(report::write_study_report(study.dir.string()),
                       doctest::Contains("field 'per_class.a.support' should be an integer"),
                       report::ReportError);
  write_text(metrics, "{\"accuracy\": 0.5}");
  const fs::path log = study.dir / "genre-cnn-mel" / "log.jsonl";
  write_text(log, "{\"epoch\": 1, \"train_loss\": 1.0}\n{\"epoch\": 2, \"train_loss\": }\n");
  CHECK_THROWS_WITH_AS(report::write_study_report(study.dir.string()),
                       doctest::Contains((log.string() + " line 2: malformed JSON").c_str()),
                       report::ReportError);
  fs::remove(log);
  write_text(study.dir / "study.json", "[1, 2");
  CHECK_THROWS_WITH_AS(report::write_study_report(study.dir.string()),
                       doctest::Contains("study.json: malformed JSON"), report::ReportError);
  fs::remove(study.dir / "study.json");
  CHECK_THROWS_WITH_AS(report::write_study_report(study.dir.string()),
                       doctest::Contains("study.json: not found"), report::ReportError);
}

TEST_CASE("a real-data study is labelled as real, and an empty study still renders") {
  FakeStudy study;
  write_json(
      study.dir / "study.json",
      {{"dataset",
        {{"path", "/data/patreco3"}, {"synthetic", false}, {"name", "patreco3 at /data/patreco3"}}},
       {"device", "cuda"},
       {"experiments", json::array()}});
  const report::ReportFiles files = report::write_study_report(study.dir.string());
  const std::string html = read_text(files.html);
  CHECK(tag_balance_problem(html) == "");
  CHECK(html.find("banner real") != std::string::npos);
  CHECK(html.find("REAL DATA") != std::string::npos);
  CHECK(html.find("Ours — real patreco3") != std::string::npos);
  CHECK(html.find("SYNTHETIC") == std::string::npos);
  CHECK(row_with(html, "Genre accuracy — CNN, mel, full clips").find("not run") !=
        std::string::npos);
  CHECK(read_text(files.markdown).find("Every experiment and its files") != std::string::npos);
}

TEST_CASE("`melgrad report --run STUDY_DIR` re-renders the report and prints the paths") {
  // The program is built next to this test: build/tests/e2e/.. -> build/experiments/melgrad.
  const fs::path exe =
      fs::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path() / "experiments" /
      "melgrad";
  REQUIRE_MESSAGE(fs::exists(exe), "build the melgrad target first: " << exe);
  FakeStudy study;
  study.add_genre("genre-cnn-mel", "CNN", "cnn", "mel", false, 0.5);
  study.finish();
  const fs::path out = study.dir / "stdout.txt";
  const std::string cmd =
      exe.string() + " report --run " + study.dir.string() + " > " + out.string() + " 2>&1";
  CHECK(std::system(cmd.c_str()) == 0);
  const std::string printed = read_text(out);
  CHECK(printed.find((study.dir / "report.html").string()) != std::string::npos);
  CHECK(printed.find((study.dir / "report.md").string()) != std::string::npos);
  CHECK(fs::exists(study.dir / "report.html"));
  const std::string bad = exe.string() + " report --run " + (study.dir / "nope").string() + " > " +
                          out.string() + " 2>&1";
  CHECK(WEXITSTATUS(std::system(bad.c_str())) == 1);
  CHECK(read_text(out).find("study.json: not found") != std::string::npos);
}
