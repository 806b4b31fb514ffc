// Reading a study folder for the report: study.json, metrics.json and the run folders,
// with errors that name the file and the field (report_study.h).
#include "experiments/report_study.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace melgrad::report {
namespace {

// --- JSON access with the file and field named in every error -------------------------

std::string describe(const json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + text;
}

[[noreturn]] void wrong_type(const std::string& file, const std::string& field,
                             const std::string& expected, const json& found) {
  throw ReportError(file + ": field '" + field + "' should be " + expected + ", found " +
                    describe(found));
}

std::string join_field(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

// A JSON number, or NaN for null.
double as_number(const json& v, const std::string& file, const std::string& field) {
  if (v.is_null()) return NAN;
  if (!v.is_number()) wrong_type(file, field, "a number (or null for NaN)", v);
  return v.get<double>();
}

int64_t as_integer(const json& v, const std::string& file, const std::string& field) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>())
    return static_cast<int64_t>(v.get<double>());
  wrong_type(file, field, "an integer", v);
}

std::string as_string(const json& v, const std::string& file, const std::string& field) {
  if (!v.is_string()) wrong_type(file, field, "a string", v);
  return v.get<std::string>();
}

const json* find_field(const json& obj, const std::string& key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

double opt_number(const json& obj, const std::string& key, const std::string& file,
                  const std::string& prefix = "") {
  const json* v = find_field(obj, key);
  return v ? as_number(*v, file, join_field(prefix, key)) : NAN;
}

int64_t opt_integer(const json& obj, const std::string& key, const std::string& file,
                    int64_t fallback = -1, const std::string& prefix = "") {
  const json* v = find_field(obj, key);
  return v && !v->is_null() ? as_integer(*v, file, join_field(prefix, key)) : fallback;
}

std::string opt_string(const json& obj, const std::string& key, const std::string& file,
                       const std::string& fallback = "") {
  const json* v = find_field(obj, key);
  return v && !v->is_null() ? as_string(*v, file, key) : fallback;
}

bool opt_bool(const json& obj, const std::string& key, const std::string& file, bool fallback) {
  const json* v = find_field(obj, key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_boolean()) wrong_type(file, key, "true or false", *v);
  return v->get<bool>();
}

std::vector<std::string> opt_string_list(const json& obj, const std::string& key,
                                         const std::string& file) {
  std::vector<std::string> out;
  const json* v = find_field(obj, key);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) wrong_type(file, key, "a list of strings", *v);
  for (size_t i = 0; i < v->size(); ++i)
    out.push_back(as_string((*v)[i], file, key + "[" + std::to_string(i) + "]"));
  return out;
}

const json& require_object(const json& v, const std::string& file, const std::string& field) {
  if (!v.is_object()) wrong_type(file, field, "an object", v);
  return v;
}

// Numbers keyed by name ({"valence": 0.4, ...}); absent = empty.
std::map<std::string, double> number_map(const json& obj, const std::string& key,
                                         const std::string& file) {
  std::map<std::string, double> out;
  const json* v = find_field(obj, key);
  if (!v || v->is_null()) return out;
  require_object(*v, file, key);
  for (const auto& [name, value] : v->items()) out[name] = as_number(value, file, key + "." + name);
  return out;
}

std::vector<double> number_list(const json& v, const std::string& file, const std::string& field) {
  if (!v.is_array()) wrong_type(file, field, "a list of numbers", v);
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i)
    out.push_back(as_number(v[i], file, field + "[" + std::to_string(i) + "]"));
  return out;
}

std::vector<int64_t> integer_list(const json& v, const std::string& file,
                                  const std::string& field) {
  if (!v.is_array()) wrong_type(file, field, "a list of integers", v);
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i)
    out.push_back(as_integer(v[i], file, field + "[" + std::to_string(i) + "]"));
  return out;
}

// Ids may be written as strings or as bare integers.
std::vector<std::string> id_list(const json& obj, const std::string& file) {
  std::vector<std::string> out;
  const json* v = find_field(obj, "ids");
  if (!v || v->is_null()) return out;
  if (!v->is_array()) wrong_type(file, "ids", "a list", *v);
  for (const json& id : *v) out.push_back(id.is_string() ? id.get<std::string>() : id.dump());
  return out;
}

json read_json_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ReportError(path.string() + ": cannot be opened for reading");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw ReportError(path.string() + ": malformed JSON: " + e.what());
  }
}

// --- What an experiment is -------------------------------------------------------------

// Valence, energy, danceability first (the study's order), then any others by name.
std::vector<std::string> ordered_targets(std::vector<std::string> names) {
  static const std::vector<std::string> kOrder = {"valence", "energy", "danceability"};
  auto rank = [](const std::string& n) {
    auto it = std::find(kOrder.begin(), kOrder.end(), n);
    return it == kOrder.end() ? kOrder.size() : static_cast<size_t>(it - kOrder.begin());
  };
  std::stable_sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
  });
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

RunTraits traits_from_name(const std::string& name, const std::string& kind) {
  RunTraits t;
  std::stringstream parts(name);
  for (std::string token; std::getline(parts, token, '-');) {
    if (token == "cnn" || token == "lstm") t.model = token;
    if (token == "mel" || token == "chroma" || token == "fused") t.features = token;
    if (token == "beat") t.beat = true;
    if (token == "valence" || token == "energy" || token == "danceability")
      t.targets.push_back(token);
  }
  if (kind == "transfer" || kind == "multitask") {
    if (t.model.empty()) t.model = "cnn";
    if (t.features.empty()) t.features = "mel";
  }
  if (kind == "multitask" && t.targets.empty()) t.targets = {"valence", "energy", "danceability"};
  if (kind == "transfer" && t.targets.empty()) t.targets = {"valence"};
  if (kind == "genre" && t.features.empty()) t.features = "mel";
  return t;
}

void read_traits(ExperimentRun& run, const std::string& file) {
  run.traits = traits_from_name(run.name, run.kind);
  if (run.config.is_null()) return;
  const json& c = run.config;
  run.traits.model = opt_string(c, "model", file, run.traits.model);
  run.traits.features = opt_string(c, "features", file, run.traits.features);
  run.traits.beat = opt_bool(c, "beat", file, run.traits.beat);
  auto targets = opt_string_list(c, "targets", file);
  if (targets.empty() && find_field(c, "target")) targets = {opt_string(c, "target", file)};
  if (!targets.empty()) run.traits.targets = targets;
}

// --- Files of one run ------------------------------------------------------------------

void read_genre_metrics(ExperimentRun& run, const json& m, const std::string& file) {
  GenreMetrics& g = run.genre;
  g.accuracy = opt_number(m, "accuracy", file);
  g.macro_f1 = opt_number(m, "macro_f1", file);
  g.weighted_f1 = opt_number(m, "weighted_f1", file);
  // metrics::ClassificationReport::to_json spells these macro_avg.f1 / weighted_avg.f1.
  if (const json* avg = find_field(m, "macro_avg"); avg && !find_field(m, "macro_f1"))
    g.macro_f1 = opt_number(*avg, "f1", file, "macro_avg");
  if (const json* avg = find_field(m, "weighted_avg"); avg && !find_field(m, "weighted_f1"))
    g.weighted_f1 = opt_number(*avg, "f1", file, "weighted_avg");
  g.classes = opt_string_list(m, "classes", file);
  if (const json* pc = find_field(m, "per_class"); pc && !pc->is_null()) {
    require_object(*pc, file, "per_class");
    if (g.classes.empty())
      for (const auto& [name, _] : pc->items()) g.classes.push_back(name);
    for (const std::string& cls : g.classes) {
      PerClassScores s;
      if (const json* entry = find_field(*pc, cls)) {
        const std::string prefix = "per_class." + cls;
        require_object(*entry, file, prefix);
        s.precision = opt_number(*entry, "precision", file, prefix);
        s.recall = opt_number(*entry, "recall", file, prefix);
        s.f1 = opt_number(*entry, "f1", file, prefix);
        s.support = opt_integer(*entry, "support", file, 0, prefix);
      }
      g.per_class.push_back(s);
    }
  }
  const json* cm = find_field(m, "confusion");
  if (!cm) cm = find_field(m, "confusion_matrix");  // ClassificationReport::to_json's name
  if (cm && !cm->is_null()) {
    if (!cm->is_array()) wrong_type(file, "confusion", "a list of rows", *cm);
    for (size_t r = 0; r < cm->size(); ++r)
      g.confusion.push_back(integer_list((*cm)[r], file, "confusion[" + std::to_string(r) + "]"));
    const size_t n = g.classes.empty() ? g.confusion.size() : g.classes.size();
    bool square = g.confusion.size() == n;
    for (const auto& row : g.confusion) square = square && row.size() == n;
    if (!square)
      throw ReportError(file + ": field 'confusion' should be " + std::to_string(n) + " x " +
                        std::to_string(n) + " (a row and a column per class), found " +
                        std::to_string(g.confusion.size()) + " rows of lengths " + [&] {
                          std::string s;
                          for (const auto& row : g.confusion)
                            s += (s.empty() ? "" : ",") + std::to_string(row.size());
                          return s.empty() ? std::string("-") : s;
                        }());
  }
}

void read_regression_metrics(ExperimentRun& run, const json& m, const std::string& file) {
  RegressionMetrics& r = run.regression;
  r.spearman = number_map(m, "spearman", file);
  r.pvalue = number_map(m, "pvalue", file);
  r.mse = number_map(m, "mse", file);
  std::vector<std::string> keys;
  for (const auto& [k, _] : r.spearman) keys.push_back(k);
  r.targets = ordered_targets(keys);
  r.mean_spearman = opt_number(m, "mean_spearman", file);
  if (!find_field(m, "mean_spearman") && !r.spearman.empty()) {
    double sum = 0;
    for (const auto& [_, v] : r.spearman) sum += v;
    r.mean_spearman = sum / static_cast<double>(r.spearman.size());
  }
}

GridRow read_grid_row(const json& row, const std::string& file, const std::string& field) {
  require_object(row, file, field);
  GridRow g;
  g.hidden = opt_integer(row, "hidden", file, 0, field);
  g.layers = opt_integer(row, "layers", file, 0, field);
  g.lr = opt_number(row, "lr", file, field);
  g.loss = opt_string(row, "loss", file);
  g.target = opt_string(row, "target", file);
  g.best_val_loss = opt_number(row, "best_val_loss", file, field);
  g.spearman = opt_number(row, "spearman", file, field);
  g.dir = opt_string(row, "dir", file);
  return g;
}

void read_metrics(ExperimentRun& run, const json& study_metrics, const std::string& study_file) {
  const fs::path own = fs::path(run.folder) / "metrics.json";
  json m;
  if (run.folder_exists && fs::exists(own)) {
    m = read_json_file(own);
    run.metrics_source = own.string();
  } else if (const json* entry = find_field(study_metrics, run.name); entry && !entry->is_null()) {
    m = *entry;
    run.metrics_source = study_file + " [\"" + run.name + "\"]";
  } else {
    run.notes.push_back("no metrics: the experiment did not finish (no metrics.json)");
    return;
  }
  require_object(m, run.metrics_source, "(top level)");
  run.has_metrics = true;
  run.raw_metrics = m;
  const std::string& file = run.metrics_source;
  RunTotals& t = run.totals;
  t.test_clips = opt_integer(m, "test_clips", file);
  t.best_epoch = opt_integer(m, "best_epoch", file);
  t.epochs_run = opt_integer(m, "epochs_run", file);
  t.train_seconds = opt_number(m, "train_seconds", file);
  if (run.is_genre()) read_genre_metrics(run, m, file);
  if (run.is_regression() || run.kind == "grid") read_regression_metrics(run, m, file);
  if (run.kind == "grid")
    if (const json* best = find_field(m, "best"); best && !best->is_null()) {
      run.grid_best = read_grid_row(*best, file, "best");
      run.has_grid_best = true;
    }
}

void read_log(ExperimentRun& run) {
  const fs::path path = fs::path(run.folder) / "log.jsonl";
  if (!run.folder_exists) return;  // the missing folder has its own note
  if (!fs::exists(path)) {
    run.notes.push_back("no training log (log.jsonl not found)");
    return;
  }
  std::ifstream in(path);
  if (!in) throw ReportError(path.string() + ": cannot be opened for reading");
  run.has_log = true;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path.string() + " line " + std::to_string(number);
    json e;
    try {
      e = json::parse(line);
    } catch (const json::parse_error& err) {
      throw ReportError(where + ": malformed JSON: " + err.what());
    }
    require_object(e, where, "(line)");
    EpochRecord r;
    r.epoch = opt_integer(e, "epoch", where, static_cast<int64_t>(run.log.size()) + 1);
    r.train_loss = opt_number(e, "train_loss", where);
    r.val_loss = opt_number(e, "val_loss", where);
    r.lr = opt_number(e, "lr", where);
    r.seconds = opt_number(e, "seconds", where);
    r.clips_per_s = opt_number(e, "clips_per_s", where);
    r.best = opt_bool(e, "best", where, false);
    r.val_accuracy = opt_number(e, "val_accuracy", where);
    r.val_spearman = number_map(e, "val_spearman", where);
    run.log.push_back(std::move(r));
  }
  if (run.log.empty()) run.notes.push_back("the training log (log.jsonl) is empty");
}

void read_predictions(ExperimentRun& run) {
  if (!run.is_genre() && !run.is_regression()) return;
  const fs::path path = fs::path(run.folder) / "predictions.json";
  if (!run.folder_exists) return;
  if (!fs::exists(path)) {
    run.notes.push_back("no test predictions (predictions.json not found)");
    return;
  }
  const std::string file = path.string();
  const json p = read_json_file(path);
  require_object(p, file, "(top level)");
  if (run.is_genre()) {
    GenrePredictions& g = run.genre_predictions;
    g.classes = opt_string_list(p, "classes", file);
    if (g.classes.empty()) g.classes = run.genre.classes;
    g.ids = id_list(p, file);
    if (const json* v = find_field(p, "truth")) g.truth = integer_list(*v, file, "truth");
    if (const json* v = find_field(p, "predicted"))
      g.predicted = integer_list(*v, file, "predicted");
    if (g.truth.size() != g.predicted.size())
      throw ReportError(file + ": 'truth' has " + std::to_string(g.truth.size()) +
                        " entries but 'predicted' has " + std::to_string(g.predicted.size()));
    const auto n = static_cast<int64_t>(g.classes.size());
    for (size_t i = 0; i < g.truth.size(); ++i)
      for (int64_t v : {g.truth[i], g.predicted[i]})
        if (v < 0 || v >= n)
          throw ReportError(file + ": class index " + std::to_string(v) + " at position " +
                            std::to_string(i) + " is outside [0, " + std::to_string(n) + ") (" +
                            std::to_string(n) + " classes)");
  } else {
    RegressionPredictions& r = run.regression_predictions;
    r.targets = opt_string_list(p, "targets", file);
    r.ids = id_list(p, file);
    const json* truth = find_field(p, "truth");
    const json* predicted = find_field(p, "predicted");
    if (!truth || !predicted)
      throw ReportError(file + ": needs the fields 'truth' and 'predicted'");
    require_object(*truth, file, "truth");
    require_object(*predicted, file, "predicted");
    if (r.targets.empty())
      for (const auto& [k, _] : truth->items()) r.targets.push_back(k);
    r.targets = ordered_targets(r.targets);
    for (const std::string& t : r.targets) {
      const json* tv = find_field(*truth, t);
      const json* pv = find_field(*predicted, t);
      if (!tv || !pv)
        throw ReportError(file + ": target '" + t + "' is missing from 'truth' or 'predicted'");
      r.truth[t] = number_list(*tv, file, "truth." + t);
      r.predicted[t] = number_list(*pv, file, "predicted." + t);
      if (r.truth[t].size() != r.predicted[t].size())
        throw ReportError(file + ": 'truth." + t + "' has " + std::to_string(r.truth[t].size()) +
                          " values but 'predicted." + t + "' has " +
                          std::to_string(r.predicted[t].size()));
    }
  }
  run.has_predictions = true;
}

void read_grid(ExperimentRun& run) {
  const fs::path path = fs::path(run.folder) / "grid.json";
  if (!run.folder_exists) return;
  if (!fs::exists(path)) {
    run.notes.push_back("no grid table (grid.json not found)");
    return;
  }
  const std::string file = path.string();
  const json g = read_json_file(path);
  require_object(g, file, "(top level)");
  if (const json* rows = find_field(g, "rows"); rows && !rows->is_null()) {
    if (!rows->is_array()) wrong_type(file, "rows", "a list of grid rows", *rows);
    for (size_t i = 0; i < rows->size(); ++i)
      run.grid_rows.push_back(read_grid_row((*rows)[i], file, "rows[" + std::to_string(i) + "]"));
  }
  if (const json* best = find_field(g, "best"); best && !best->is_null() && !run.has_grid_best) {
    run.grid_best = read_grid_row(*best, file, "best");
    run.has_grid_best = true;
  }
}

ExperimentRun read_experiment(const json& entry, size_t index, const std::string& study_dir,
                              const json& study_metrics, const std::string& study_file,
                              const std::string& metrics_file) {
  const std::string field = "experiments[" + std::to_string(index) + "]";
  require_object(entry, study_file, field);
  ExperimentRun run;
  const json* name = find_field(entry, "name");
  if (!name) throw ReportError(study_file + ": field '" + field + ".name' is missing");
  run.name = as_string(*name, study_file, field + ".name");
  run.kind = opt_string(entry, "kind", study_file);
  run.title = opt_string(entry, "title", study_file);
  run.dir = opt_string(entry, "dir", study_file, run.name);
  run.folder = (fs::path(study_dir) / run.dir).string();
  run.folder_exists = fs::is_directory(run.folder);
  static const std::vector<std::string> kKinds = {"genre", "regress", "transfer", "multitask",
                                                  "grid"};
  run.known_kind = std::find(kKinds.begin(), kKinds.end(), run.kind) != kKinds.end();
  if (!run.known_kind)
    run.notes.push_back("unknown experiment kind '" + run.kind + "': shown with its raw metrics");
  if (!run.folder_exists) run.notes.push_back("run folder " + run.folder + " not found");

  const fs::path config = fs::path(run.folder) / "config.json";
  if (run.folder_exists && fs::exists(config)) {
    run.config = read_json_file(config);
    require_object(run.config, config.string(), "(top level)");
  } else if (run.folder_exists && run.kind != "grid") {  // a grid's configs are in its cells
    run.notes.push_back("no config.json: model and features guessed from the name");
  }
  read_traits(run, config.string());
  read_metrics(run, study_metrics, metrics_file);
  if (run.kind != "grid") read_log(run);  // a grid's logs are in its cells' folders
  read_predictions(run);
  if (run.kind == "grid") read_grid(run);
  // --seeds N: the other seeds' folders, each read like the first (docs/REPORT.md).
  if (const json* dirs = find_field(entry, "seed_dirs"); dirs && !dirs->is_null()) {
    if (!dirs->is_array()) wrong_type(study_file, field + ".seed_dirs", "a list of folders", *dirs);
    for (size_t k = 0; k < dirs->size(); ++k) {
      const std::string sub = field + ".seed_dirs[" + std::to_string(k) + "]";
      json seed_entry = {{"name", run.name},
                         {"kind", run.kind},
                         {"title", run.title},
                         {"dir", as_string((*dirs)[k], study_file, sub)}};
      run.seed_runs.push_back(
          read_experiment(seed_entry, index, study_dir, json::object(), study_file, metrics_file));
    }
  }
  return run;
}

}  // namespace

const std::vector<std::string>& standard_experiment_names() {
  static const std::vector<std::string> kNames = {"genre-cnn-mel",
                                                  "genre-lstm-mel",
                                                  "genre-cnn-mel-beat",
                                                  "genre-lstm-mel-beat",
                                                  "genre-lstm-chroma-beat",
                                                  "genre-lstm-fused-beat",
                                                  "regress-cnn-valence",
                                                  "regress-cnn-energy",
                                                  "regress-cnn-danceability",
                                                  "regress-lstm-valence",
                                                  "regress-lstm-energy",
                                                  "regress-lstm-danceability",
                                                  "transfer-valence",
                                                  "multitask"};
  return kNames;
}

ExperimentRun load_run(const std::string& run_dir) {
  const fs::path dir = fs::absolute(run_dir).lexically_normal();
  const fs::path config = dir / "config.json";
  if (!fs::exists(config))
    throw ReportError(config.string() + ": not found (is this a run folder written by melgrad?)");
  const json c = read_json_file(config);
  require_object(c, config.string(), "(top level)");
  std::string kind = opt_string(c, "command", config.string());
  if (fs::exists(dir / "grid.json")) kind = "grid";
  std::string name = dir.filename().string();
  if (name.empty()) name = dir.parent_path().filename().string();
  const json entry = {{"name", name}, {"kind", kind}, {"dir", dir.filename().string()}};
  return read_experiment(entry, 0, dir.parent_path().string(), json::object(), config.string(),
                         (dir / "metrics.json").string());
}

StudyData load_study(const std::string& study_dir) {
  StudyData study;
  study.dir = study_dir;
  const fs::path study_path = fs::path(study_dir) / "study.json";
  if (!fs::exists(study_path))
    throw ReportError(study_path.string() +
                      ": not found (is this a study folder written by `melgrad study`?)");
  const std::string study_file = study_path.string();
  const json s = read_json_file(study_path);
  require_object(s, study_file, "(top level)");

  if (const json* d = find_field(s, "dataset"); d && !d->is_null()) {
    require_object(*d, study_file, "dataset");
    study.dataset.known = true;
    study.dataset.name = opt_string(*d, "name", study_file);
    study.dataset.path = opt_string(*d, "path", study_file);
    study.dataset.synthetic = opt_bool(*d, "synthetic", study_file, true);
  } else {
    study.notes.push_back("study.json does not say which data set was used");
  }
  study.device = opt_string(s, "device", study_file);
  study.started = opt_string(s, "started", study_file);
  study.seconds = opt_number(s, "seconds", study_file);

  json metrics;
  const fs::path metrics_path = fs::path(study_dir) / "metrics.json";
  if (fs::exists(metrics_path)) {
    metrics = read_json_file(metrics_path);
    require_object(metrics, metrics_path.string(), "(top level)");
  } else {
    study.notes.push_back("the study's metrics.json is missing: metrics come from the run folders");
  }

  const json* experiments = find_field(s, "experiments");
  if (!experiments || experiments->is_null()) {
    study.notes.push_back("study.json lists no experiments");
    return study;
  }
  if (!experiments->is_array()) wrong_type(study_file, "experiments", "a list", *experiments);
  for (size_t i = 0; i < experiments->size(); ++i)
    study.runs.push_back(read_experiment((*experiments)[i], i, study_dir, metrics, study_file,
                                         metrics_path.string()));
  return study;
}

}  // namespace melgrad::report
