// The report's summary: our headline numbers beside the study's published figures
// (REFERENCE §3, all measured on the real patreco3 data set).
#include <algorithm>
#include <cmath>

#include "experiments/report_content.h"

namespace melgrad::report {

// --- The summary table ---------------------------------------------------------------

namespace {

// Our value for one summary row and the experiment(s) it came from ("" = not run).
struct Ours {
  double value = NAN;
  std::string source;
};

Ours genre_accuracy(const StudyData& s, const std::string& model, const std::string& features,
                    bool beat) {
  const ExperimentRun* r = find_genre_run(s, model, features, beat);
  return r ? Ours{r->genre.accuracy, r->name} : Ours{};
}

Ours single_spearman(const ExperimentRun* r, const std::string& target) {
  return r ? Ours{spearman_of(r, target), r->name} : Ours{};
}

// Mean Spearman of one model's three single-attribute runs: n/a when one of them is
// undefined, "not run" when none ran, and a note when only some ran.
Ours per_attribute_mean(const StudyData& s, const std::string& model) {
  double sum = 0;
  int found = 0;
  for (const char* t : {"valence", "energy", "danceability"})
    if (const ExperimentRun* r = find_regress_run(s, model, t)) sum += spearman_of(r, t), ++found;
  if (found == 3) return {sum / 3, "regress-" + model + "-{valence,energy,danceability}"};
  if (found == 0) return {};
  return {NAN, std::to_string(found) + " of 3 regress-" + model + "-* runs (mean needs all 3)"};
}

// The experiment a summary value came from, linked to its section when it is one run.
Cell source_cell(const std::string& source) {
  if (source.empty()) return {"—", "na"};
  const bool one_run = source.find_first_of(" {") == std::string::npos;
  return {source, "", one_run ? anchor_id(source) : ""};
}

struct SummaryRow {
  std::string result;
  Ours ours;
  std::string seed;    // the seed lab report / its notebook
  std::string others;  // other published solutions of the same lab
};

}  // namespace

Section summary_section(const StudyData& s, const std::string& ours_label) {
  const ExperimentRun* transfer = find_kind_run(s, "transfer");
  const ExperimentRun* multitask = find_kind_run(s, "multitask");
  const std::string cnn_range = "CNNs 0.29–0.47";
  const std::string lstm_range = "LSTMs 0.21–0.38";
  const std::vector<SummaryRow> rows = {
      {"Genre accuracy — CNN, mel, full clips", genre_accuracy(s, "cnn", "mel", false),
       "≈ 0.43 (headline)", "≈ 0.45 (" + cnn_range + ")"},
      {"Genre accuracy — LSTM, mel, full clips", genre_accuracy(s, "lstm", "mel", false),
       "≈ 0.36 (headline)", lstm_range},
      {"Genre accuracy — CNN, mel, beat-synced", genre_accuracy(s, "cnn", "mel", true),
       "0.35 (notebook)", cnn_range},
      {"Genre accuracy — LSTM, mel, beat-synced", genre_accuracy(s, "lstm", "mel", true), "—",
       lstm_range},
      {"Genre accuracy — LSTM, chroma, beat-synced", genre_accuracy(s, "lstm", "chroma", true), "—",
       lstm_range},
      {"Genre accuracy — LSTM, fused mel+chroma, beat-synced",
       genre_accuracy(s, "lstm", "fused", true), "—", lstm_range},
      {"Valence Spearman — CNN, no transfer",
       single_spearman(find_regress_run(s, "cnn", "valence"), "valence"), "≈ 0.40", "—"},
      {"Valence Spearman — CNN with transfer from genre", single_spearman(transfer, "valence"),
       "≈ 0.49", "—"},
      {"Mean Spearman (V, E, D) — LSTM, one model per attribute", per_attribute_mean(s, "lstm"),
       "—", "0.471"},
      {"Mean Spearman (V, E, D) — CNN, one model per attribute", per_attribute_mean(s, "cnn"), "—",
       "0.646"},
      {"Mean Spearman — transfer (over the run's targets)",
       transfer ? Ours{transfer->regression.mean_spearman, transfer->name} : Ours{}, "—", "0.688"},
      {"Multitask Spearman — valence", single_spearman(multitask, "valence"), "0.240 (notebook)",
       "0.668"},
      {"Multitask Spearman — energy", single_spearman(multitask, "energy"), "0.596 (notebook)",
       "0.794"},
      {"Multitask Spearman — danceability", single_spearman(multitask, "danceability"),
       "0.383 (notebook)", "0.768"},
      {"Multitask Spearman — mean (V, E, D)",
       multitask ? Ours{multitask->regression.mean_spearman, multitask->name} : Ours{},
       "0.407 (notebook)", "0.744"},
  };

  Section sec{.id = "summary", .title = "Summary: our results beside the published ones"};
  sec.blocks.push_back(Paragraph{
      "Each column says which data set produced it. The published figures were measured on "
      "the real patreco3 data set (Free Music Archive clips); ours come from the data set "
      "named in the header." +
      std::string(s.dataset.synthetic
                      ? " Ours were measured on the embedded SYNTHETIC data set, so they check "
                        "that the pipeline learns; they are not comparable to the published "
                        "numbers."
                      : "")});
  Table t;
  t.header = {"Result", "Ours — " + ours_label, "Seed report (published, real patreco3)",
              "Other lab solutions (published, real patreco3)", "Our experiment"};
  t.column_class = {"", "ours", "pub", "pub", ""};
  for (const SummaryRow& r : rows) {
    Cell ours = number_cell(r.ours.value);
    if (r.ours.source.empty()) ours = {"not run", "na"};
    t.rows.push_back({{r.result, ""},
                      ours,
                      {r.seed, r.seed == "—" ? "na" : "num"},
                      {r.others, r.others == "—" ? "na" : "num"},
                      source_cell(r.ours.source)});
  }
  t.footnotes = {
      "Genre accuracy: fraction of test clips classified correctly (10 classes; chance is "
      "0.100). Spearman: rank correlation between predicted and true values on the test split.",
      "Seed report: the lab report this project re-runs and its notebook (REFERENCE §3); its "
      "headline also finds multitask best overall. "
      "Other lab solutions: other published solutions of the same lab exercise; a range "
      "spans all of them.",
      "n/a: the run finished but the value is undefined (e.g. the Spearman of a constant "
      "prediction); not run: the study has no finished run of that experiment."};
  // --seeds N: this table shows each experiment's first seed (its own folder).
  for (const ExperimentRun& r : s.runs)
    if (r.seed_runs.size() > 1) {
      t.footnotes.push_back(
          "Ours: the first training seed's run of each experiment; the mean over all " +
          std::to_string(r.seed_runs.size()) +
          " seeds, with its 95 % interval, is in \"Intervals and significance\".");
      break;
    }
  sec.blocks.push_back(std::move(t));
  return sec;
}

}  // namespace melgrad::report
