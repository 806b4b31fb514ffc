// `--recipe seed` (experiments/recipe_seed.h): the notebook's settings per experiment as the
// recipe sets them, options given on the command line winning over it, the model-config
// fields it writes (and their absence under the default recipe), and the training commands
// (regress, grid) run with it on the tiny generated data set.
#include <doctest/doctest.h>

#include <set>

#include "e2e_util.h"
#include "experiments/cli.h"
#include "experiments/model_config.h"
#include "experiments/recipe_seed.h"

using namespace e2e;
using namespace melgrad::experiments;
using nlohmann::json;

namespace {

const OptionGiven kNothingGiven = [](const std::string&) { return false; };

ExperimentSpec seeded(const std::string& command, const std::string& model, bool beat,
                      const std::string& features, const std::string& target = "",
                      const OptionGiven& given = kNothingGiven) {
  ExperimentSpec s;
  s.kind = parse_experiment_kind(command, "seeded()");
  s.model = model;
  s.beat = beat;
  s.features = features;
  if (!target.empty()) s.targets = {target};
  apply_seed_recipe(s, given);
  return s;
}

}  // namespace

TEST_CASE("seed recipe: the notebook's CNN settings per experiment") {
  const ExperimentSpec full = seeded("genre", "cnn", false, "mel");
  CHECK(full.recipe == "seed");
  CHECK(full.cnn.channels == std::vector<int64_t>{1, 16, 64, 256, 512});
  CHECK(full.cnn.pool == 3);
  CHECK(full.cnn.dropout == 0.25);
  CHECK(full.lr == 1e-4);
  CHECK(full.weight_decay == 1e-5);
  CHECK(full.patience == 12);
  CHECK(full.epochs == 2500);
  CHECK(full.batch_size == 32);
  CHECK_FALSE(full.cnn.batch_norm);
  CHECK(full.cnn.relu_before_batch_norm);
  CHECK(full.cnn.frequency_major);
  CHECK_FALSE(full.standardise);
  CHECK(seeded("genre", "cnn", false, "chroma").cnn.channels == std::vector<int64_t>{1, 16, 64});

  const ExperimentSpec beat = seeded("genre", "cnn", true, "mel");
  CHECK(beat.cnn.channels == std::vector<int64_t>{1, 4, 16, 64, 256});
  CHECK(beat.cnn.pool == 2);
  CHECK(beat.cnn.dropout == 0.15);
  CHECK(beat.lr == 1e-5);
  CHECK(beat.weight_decay == 1e-6);

  const ExperimentSpec reg = seeded("regress", "cnn", false, "mel", "energy");
  CHECK(reg.cnn.channels == std::vector<int64_t>{1, 16, 64, 256, 512});
  CHECK(reg.cnn.pool == 2);
  CHECK(reg.cnn.dropout == 0.25);
  CHECK(reg.lr == 1e-5);
  CHECK(reg.weight_decay == 1e-5);
  CHECK(reg.loss == "mse");
  CHECK(reg.split_fractions.val == 0.12);
  CHECK(reg.split_fractions.test == 0.28);

  const ExperimentSpec tr = seeded("transfer", "cnn", true, "mel", "valence");
  CHECK(tr.lr == 1e-5);
  CHECK(tr.weight_decay == 1e-6);
  CHECK(tr.patience == 15);
  CHECK(tr.split_fractions.val < 0);  // the default 0.28 / 0.12

  const ExperimentSpec mt = seeded("multitask", "cnn", true, "mel");
  CHECK(mt.cnn.channels == std::vector<int64_t>{1, 4, 16, 64, 256});
  CHECK(mt.cnn.dropout == 0.2);
  CHECK(mt.lr == 5e-5);
  CHECK(mt.weight_decay == 1e-6);
  CHECK(mt.patience == 12);
}

TEST_CASE("seed recipe: the notebook's BiLSTM settings, the grids' axes and their winners") {
  const ExperimentSpec mel = seeded("genre", "lstm", false, "mel");
  CHECK(mel.lstm.hidden == 100);
  CHECK(mel.lstm.layers == 2);
  CHECK(mel.lstm.dropout == 0.2);
  CHECK(mel.lstm.output_dropout == 0.2);
  CHECK(mel.lr == 1e-5);
  CHECK(mel.weight_decay == 1e-6);
  CHECK(mel.patience == 15);
  CHECK(seeded("genre", "lstm", true, "mel").lr == 2e-5);
  CHECK(seeded("genre", "lstm", false, "chroma").lr == 1e-5);
  CHECK(seeded("genre", "lstm", false, "fused").lr == 2e-5);

  const ExperimentSpec v = seeded("regress", "lstm", true, "mel", "valence");
  CHECK(v.lstm.hidden == 600);
  CHECK(v.lstm.layers == 3);
  CHECK(v.lr == 1e-5);
  CHECK(v.loss == "smooth_l1");
  CHECK(v.patience == 12);
  CHECK(v.epochs == 2000);
  const ExperimentSpec e = seeded("regress", "lstm", true, "mel", "energy");
  CHECK(e.lstm.layers == 5);
  CHECK(e.lr == 5e-6);
  CHECK(seeded("regress", "lstm", true, "mel", "danceability").loss == "l1");

  GridSpec g;
  g.target = "valence";
  apply_seed_grid_recipe(g, kNothingGiven);
  CHECK(g.hidden == std::vector<int64_t>{200, 600});
  CHECK(g.layers == std::vector<int64_t>{3, 5});
  CHECK(g.lrs == std::vector<double>{1e-5, 5e-6});
  CHECK(g.losses == std::vector<std::string>{"mse", "l1", "smooth_l1"});
  CHECK(g.base.epochs == 2000);
  CHECK(g.base.patience == 12);
  GridSpec d;
  d.target = "danceability";
  apply_seed_grid_recipe(d, kNothingGiven);
  CHECK(d.layers == std::vector<int64_t>{2, 5});
  CHECK(d.losses == std::vector<std::string>{"l1", "smooth_l1"});
}

TEST_CASE("seed recipe: options given on the command line win") {
  const std::set<std::string> given_set = {"lr", "dropout", "channels", "epochs", "loss", "hidden"};
  const OptionGiven given = [&](const std::string& o) { return given_set.count(o) > 0; };
  ExperimentSpec s;
  s.kind = ExperimentKind::regress;
  s.model = "cnn";
  s.targets = {"valence"};
  s.lr = 3e-4;
  s.cnn.dropout = 0.4;
  s.cnn.channels = {1, 8};
  s.epochs = 7;
  s.loss = "l1";
  apply_seed_recipe(s, given);
  CHECK(s.lr == 3e-4);
  CHECK(s.cnn.dropout == 0.4);
  CHECK(s.cnn.channels == std::vector<int64_t>{1, 8});
  CHECK(s.epochs == 7);
  CHECK(s.loss == "l1");
  CHECK(s.weight_decay == 1e-5);  // not given: the recipe's
  CHECK(s.cnn.pool == 2);

  ExperimentSpec l;
  l.kind = ExperimentKind::regress;
  l.model = "lstm";
  l.targets = {"energy"};
  l.lstm.hidden = 32;
  l.lstm.dropout = 0.3;
  apply_seed_recipe(l, given);
  CHECK(l.lstm.hidden == 32);
  CHECK(l.lstm.layers == 5);
  CHECK(l.lstm.dropout == 0.3);
  CHECK(l.lstm.output_dropout == 0.3);  // the notebook uses one value for both
  CHECK_THROWS_WITH_AS(parse_recipe("notebook"), doctest::Contains("--recipe"),
                       melgrad::cli::UsageError);
}

TEST_CASE("model_config: the recipe's fields round-trip and are absent under the default recipe") {
  melgrad::models::CnnConfig c;
  const json plain = cnn_config_json(c);
  CHECK_FALSE(plain.contains("frequency_major"));
  CHECK_FALSE(plain.contains("relu_before_batch_norm"));
  c.frequency_major = c.relu_before_batch_norm = true;
  const json j = cnn_config_json(c);
  CHECK(j["frequency_major"] == true);
  const melgrad::models::CnnConfig back = cnn_config_from_json(j);
  CHECK(back.frequency_major);
  CHECK(back.relu_before_batch_norm);
  CHECK_FALSE(cnn_config_from_json(plain).frequency_major);

  melgrad::models::LstmConfig l;
  CHECK_FALSE(lstm_config_json(l, 0).contains("output_dropout"));
  l.output_dropout = 0.2;
  CHECK(lstm_config_from_json(lstm_config_json(l, 0)).output_dropout == 0.2);
}

TEST_CASE("melgrad regress --recipe seed: the notebook's regression CNN, with --lr given winning") {
  const fs::path out = scratch() / "regress-seed";
  Result r =
      run({"regress", "--recipe", "seed", "--data", tiny_data(), "--frames", "16", "--epochs", "1",
           "--lr", "0.0003", "--threads", "2", "--no-progress", "--out", out.string()});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json c = read_json(out / "config.json");
  CHECK(c["recipe"] == "seed");
  CHECK(c["lr"] == 0.0003);
  CHECK(c["weight_decay"] == 1e-5);
  CHECK(c["epochs"] == 1);
  CHECK(c["val_fraction"] == 0.12);
  CHECK(c["test_fraction"] == 0.28);
  CHECK_FALSE(c.contains("standardisation"));
  const json& mc = c["model_config"];
  CHECK(mc["channels"] == json{1, 16, 64, 256, 512});
  CHECK(mc["batch_norm"] == false);
  CHECK(mc["frequency_major"] == true);
  CHECK(mc["dropout"] == 0.25);
  const json metrics = read_json(out / "metrics.json");
  CHECK(metrics["test_clips"] == 78);  // floor(0.28 * 280)
  // evaluate rebuilds the run from config.json: the same split, image orientation and inputs.
  const Result ev = run({"evaluate", "--run", out.string(), "--json"});
  INFO(ev.out << ev.err);
  REQUIRE(ev.code == 0);
  const json again = json::parse(ev.out);
  CHECK(again["test_clips"] == 78);
  CHECK(again["spearman"]["valence"] == metrics["spearman"]["valence"]);

  const Result bad = run({"genre", "--recipe", "notebook", "--data", tiny_data(), "--out",
                          (scratch() / "x").string()});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--recipe expects default or seed") != std::string::npos);
}

TEST_CASE("melgrad grid --recipe seed: the notebook's axes for the attribute, given axes win") {
  const fs::path out = scratch() / "grid-seed";
  Result r = run({"grid", "--recipe", "seed", "--target", "energy", "--data", tiny_data(),
                  "--epochs", "1", "--hidden-sizes", "4", "--layer-counts", "1", "--threads", "2",
                  "--no-progress", "--out", out.string()});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json rows = read_json(out / "grid.json")["rows"];
  REQUIRE(rows.size() == 4);  // lr 1e-5, 5e-6 x loss l1, smooth_l1 (the energy search)
  std::set<std::string> losses;
  for (const json& row : rows) {
    CHECK(row["hidden"] == 4);
    losses.insert(row["loss"].get<std::string>());
  }
  CHECK(losses == std::set<std::string>{"l1", "smooth_l1"});
  const json cell = read_json(out / rows[0]["dir"].get<std::string>() / "config.json");
  CHECK(cell["model_config"]["output_dropout"] == 0.2);
  CHECK(cell["weight_decay"] == 1e-6);
  CHECK(cell["patience"] == 12);
}
