// The notebook's recipe (see recipe_seed.h). Each number below names the notebook's cell
// variables it comes from; docs/EXPERIMENTS.md has the table and the places where the
// notebook is silent or cannot run as written.
#include "experiments/recipe_seed.h"

#include <algorithm>
#include <filesystem>

#include "experiments/cli.h"

namespace fs = std::filesystem;

namespace melgrad::experiments {

namespace {

constexpr int64_t kEpochCap = 2500;      // `epochs = 2500` of every training cell
constexpr int64_t kGridEpochCap = 2000;  // `epochs = 2000` of the LSTM regression grids

// Sets `field` to `value` unless the option was given.
template <class T, class V>
void unless_given(const OptionGiven& given, const char* option, T& field, V value) {
  if (!given(option)) field = value;
}

void seed_cnn(ExperimentSpec& s, const OptionGiven& given) {
  models::CnnConfig& c = s.cnn;
  // CNNBackbone(..., batchnorm=False) in every training cell; its block order is
  // Conv2d, ReLU, [BatchNorm2d(track_running_stats=False)], MaxPool2d, and forward() feeds
  // x.transpose(1, 2).unsqueeze(1): an image [N, 1, F, T].
  c.batch_norm = false;
  c.relu_before_batch_norm = true;
  c.frequency_major = true;
  c.hidden = {128, 64};  // lin_channels = [128, 64, outputs]
  std::vector<int64_t> channels;
  int64_t pool = 2;
  double dropout = 0, lr = 0, weight_decay = 0;
  int64_t patience = 12;
  if (s.kind == ExperimentKind::genre && !s.beat) {
    // Full-clip genre CNN (mel, fused, chroma cells): conv_channels [1,16,64,256,512],
    // maxpools 3, dropout 0.25, lr 1e-4, weight_decay 1e-5, patience 12. A 12-row chromagram
    // does not survive four 3x3 max-pools (12 -> 4 -> 1 -> 0: the notebook's chroma cell
    // cannot run as written); it keeps the first two blocks, the deepest trunk it survives.
    channels = s.features == "chroma" ? std::vector<int64_t>{1, 16, 64}
                                      : std::vector<int64_t>{1, 16, 64, 256, 512};
    pool = 3;
    dropout = 0.25, lr = 1e-4, weight_decay = 1e-5;
  } else if (s.kind == ExperimentKind::genre) {
    // Beat-synchronised genre CNN (the transfer cell's first model): [1,4,16,64,256],
    // maxpools 2, dropout 0.15, lr 1e-5, weight_decay 1e-6, patience 12.
    channels = {1, 4, 16, 64, 256};
    dropout = 0.15, lr = 1e-5, weight_decay = 1e-6;
  } else if (s.kind == ExperimentKind::regress) {
    // Regression CNN (multitask_dataset, full clips, one attribute): [1,16,64,256,512],
    // maxpools 2, lin [128,64,1], dropout 0.25, lr 1e-5, weight_decay 1e-5, patience 12,
    // MSELoss; split with val_size 0.12, test_size 0.28.
    channels = {1, 16, 64, 256, 512};
    dropout = 0.25, lr = 1e-5, weight_decay = 1e-5;
    unless_given(given, "loss", s.loss, std::string("mse"));
    s.split_fractions = {.val = 0.12, .test = 0.28};
  } else if (s.kind == ExperimentKind::transfer) {
    // Transfer (the trunk, dropout 0.15 and frames come from the genre run): lr 1e-5,
    // weight_decay 1e-6, patience 15, MSELoss; val 0.28, test 0.12.
    channels = {1, 4, 16, 64, 256};
    dropout = 0.15, lr = 1e-5, weight_decay = 1e-6;
    patience = 15;
    unless_given(given, "loss", s.loss, std::string("mse"));
  } else {
    // Multitask: [1,4,16,64,256], maxpools 2, three heads [128,64,1], dropout 0.2,
    // lr 5e-5, weight_decay 1e-6, patience 12, weights 0.5/0.1/0.4 on MSE; val 0.28, test 0.12.
    channels = {1, 4, 16, 64, 256};
    dropout = 0.2, lr = 5e-5, weight_decay = 1e-6;
  }
  unless_given(given, "channels", c.channels, channels);
  unless_given(given, "pool", c.pool, pool);
  unless_given(given, "dropout", c.dropout, dropout);
  unless_given(given, "lr", s.lr, lr);
  unless_given(given, "weight-decay", s.weight_decay, weight_decay);
  unless_given(given, "patience", s.patience, patience);
}

void seed_lstm(ExperimentSpec& s, const OptionGiven& given) {
  models::LstmConfig& c = s.lstm;
  // LSTMBackbone: nn.LSTM(..., dropout) and nn.Dropout(dropout) on its unpacked outputs.
  double lr = 0;
  int64_t hidden = 100, layers = 2, patience = 15;
  if (s.kind == ExperimentKind::genre) {
    // rnn_size 100, num_layers 2, dropout 0.2, weight_decay 1e-6, patience 15; lr 1e-5 for
    // full mel and full chroma, 2e-5 for beat mel and full fused (beat chroma and beat
    // fused are not in the notebook: they take beat mel's 2e-5).
    lr = s.beat || s.features == "fused" ? 2e-5 : 1e-5;
  } else {
    // The final regressors: the winning cells of the notebook's grids (beat mel, dropout 0.2,
    // weight_decay 1e-6, patience 12, epochs 2000).
    const LstmRegressorSettings w =
        seed_lstm_regressor(s.targets.empty() ? "valence" : s.targets.front());
    hidden = w.hidden, layers = w.layers, lr = w.lr, patience = 12;
    unless_given(given, "loss", s.loss, w.loss);
    unless_given(given, "epochs", s.epochs, kGridEpochCap);
  }
  unless_given(given, "hidden", c.hidden, hidden);
  unless_given(given, "layers", c.layers, layers);
  unless_given(given, "dropout", c.dropout, 0.2);
  c.output_dropout = c.dropout;  // the notebook uses one value for both
  unless_given(given, "lr", s.lr, lr);
  unless_given(given, "weight-decay", s.weight_decay, 1e-6);
  unless_given(given, "patience", s.patience, patience);
}

int64_t scaled_channels(int64_t c) { return std::max<int64_t>(1, c / 8); }

}  // namespace

std::string parse_recipe(const std::string& name) {
  if (name != "default" && name != "seed")
    throw cli::UsageError("option --recipe expects default or seed, got '" + name + "'");
  return name;
}

void apply_seed_recipe(ExperimentSpec& s, const OptionGiven& given) {
  s.recipe = "seed";
  if (s.kind == ExperimentKind::transfer || s.kind == ExperimentKind::multitask) s.model = "cnn";
  s.standardise = false;  // the notebook feeds the dB values as they are
  unless_given(given, "epochs", s.epochs, kEpochCap);
  unless_given(given, "batch-size", s.batch_size, int64_t(32));
  if (s.model == "lstm")
    seed_lstm(s, given);
  else
    seed_cnn(s, given);
}

LstmRegressorSettings seed_lstm_regressor(const std::string& target) {
  // The single-cell grids after each search: valence [600, 3, 1e-5, SmoothL1],
  // energy [600, 5, 5e-6, SmoothL1], danceability [600, 5, 1e-5, L1].
  if (target == "valence") return {600, 3, 1e-5, "smooth_l1"};
  if (target == "energy") return {600, 5, 5e-6, "smooth_l1"};
  if (target == "danceability") return {600, 5, 1e-5, "l1"};
  throw std::invalid_argument("seed recipe: no LSTM regressor for target '" + target +
                              "' (valence, energy or danceability)");
}

void apply_seed_grid_recipe(GridSpec& g, const OptionGiven& given) {
  g.base.targets = {g.target};
  apply_seed_recipe(g.base, given);
  unless_given(given, "epochs", g.base.epochs, kGridEpochCap);
  // param_grid of each attribute's search (multitask_dataset_beat, mel).
  std::vector<int64_t> layers =
      g.target == "valence" ? std::vector<int64_t>{3, 5} : std::vector<int64_t>{2, 5};
  std::vector<std::string> losses = g.target == "valence"
                                        ? std::vector<std::string>{"mse", "l1", "smooth_l1"}
                                        : std::vector<std::string>{"l1", "smooth_l1"};
  unless_given(given, "hidden-sizes", g.hidden, std::vector<int64_t>{200, 600});
  unless_given(given, "layer-counts", g.layers, layers);
  unless_given(given, "lrs", g.lrs, std::vector<double>{1e-5, 5e-6});
  unless_given(given, "losses", g.losses, losses);
}

std::vector<StudyExperiment> seed_study_plan(const StudyOptions& o) {
  const OptionGiven given = [&](const std::string& option) {
    return option == "epochs" && o.epochs > 0;
  };
  auto cap = [&](int64_t e) {
    return o.quick ? std::min<int64_t>(e, 2) : o.epochs > 0 ? std::min(e, o.epochs) : e;
  };
  auto spec = [&](ExperimentKind kind, const std::string& model, bool beat,
                  const std::string& features, const std::string& target) {
    ExperimentSpec s;
    s.kind = kind;
    s.model = model;
    s.beat = beat;
    s.features = features;
    if (!target.empty()) s.targets = {target};
    s.epochs = o.epochs > 0 ? o.epochs : kEpochCap;
    apply_seed_recipe(s, given);
    s.epochs = cap(s.epochs);
    apply_study_options(s, o);  // also --deterministic, which this copy had missed
    if (o.quick) {
      for (size_t i = 1; i < s.cnn.channels.size(); ++i)
        s.cnn.channels[i] = scaled_channels(s.cnn.channels[i]);
      s.lstm.hidden = std::min<int64_t>(s.lstm.hidden, 16);
      s.lstm.layers = std::min<int64_t>(s.lstm.layers, 2);
    }
    return s;
  };
  std::vector<StudyExperiment> plan;
  auto add = [&](std::string name, std::string kind, std::string title, ExperimentSpec s) {
    s.label = name;
    s.out = (fs::path(o.out) / name).string();
    plan.push_back(
        {std::move(name), std::move(kind), std::move(title), std::move(s), std::nullopt});
  };
  const std::vector<std::string> targets = {"valence", "energy", "danceability"};

  add("genre-lstm-mel", "genre", "BiLSTM on mel spectrograms, full clips",
      spec(ExperimentKind::genre, "lstm", false, "mel", ""));
  add("genre-lstm-mel-beat", "genre", "BiLSTM on beat-synchronised mel spectrograms",
      spec(ExperimentKind::genre, "lstm", true, "mel", ""));
  add("genre-lstm-chroma", "genre", "BiLSTM on chromagrams, full clips",
      spec(ExperimentKind::genre, "lstm", false, "chroma", ""));
  add("genre-lstm-fused", "genre", "BiLSTM on fused mel + chroma, full clips",
      spec(ExperimentKind::genre, "lstm", false, "fused", ""));
  add("genre-cnn-mel", "genre", "CNN on mel spectrograms, full clips",
      spec(ExperimentKind::genre, "cnn", false, "mel", ""));
  add("genre-cnn-fused", "genre", "CNN on fused mel + chroma, full clips",
      spec(ExperimentKind::genre, "cnn", false, "fused", ""));
  add("genre-cnn-chroma", "genre", "CNN on chromagrams, full clips (first two conv blocks)",
      spec(ExperimentKind::genre, "cnn", false, "chroma", ""));
  for (const std::string& t : targets)
    add("regress-cnn-" + t, "regress", "CNN regression of " + t + " (full-clip mel)",
        spec(ExperimentKind::regress, "cnn", false, "mel", t));
  for (const std::string& t : targets) {
    GridSpec g;
    g.target = t;
    g.base = spec(ExperimentKind::regress, "lstm", true, "mel", t);
    apply_seed_grid_recipe(g, given);
    g.base.epochs = cap(g.base.epochs);
    if (o.quick) {
      g.base.lstm.hidden = std::min<int64_t>(g.base.lstm.hidden, 16);
      g.hidden = {16};
      g.layers = {2};
      g.lrs = {seed_lstm_regressor(t).lr};
    }
    g.out = (fs::path(o.out) / ("grid-" + t)).string();
    ExperimentSpec base = g.base;
    base.out = g.out;
    plan.push_back({"grid-" + t, "grid",
                    "BiLSTM regression grid on " + t + " (the notebook's axes)", base, g});
  }
  for (const std::string& t : targets) {
    const LstmRegressorSettings w = seed_lstm_regressor(t);
    add("regress-lstm-" + t, "regress",
        "BiLSTM regression of " + t + " (beat-synchronised mel; the grid's winner: hidden " +
            std::to_string(w.hidden) + ", " + std::to_string(w.layers) + " layers)",
        spec(ExperimentKind::regress, "lstm", true, "mel", t));
  }
  add("genre-cnn-mel-beat", "genre",
      "CNN on beat-synchronised mel spectrograms (the transfer's source)",
      spec(ExperimentKind::genre, "cnn", true, "mel", ""));
  {
    ExperimentSpec s = spec(ExperimentKind::transfer, "cnn", true, "mel", "valence");
    s.transfer_from = (fs::path(o.out) / "genre-cnn-mel-beat").string();
    add("transfer-valence", "transfer",
        "CNN regression of valence starting from the beat genre CNN (transfer)", s);
  }
  {
    ExperimentSpec s = spec(ExperimentKind::multitask, "cnn", true, "mel", "");
    s.targets = targets;
    s.target_weights = {0.5, 0.1, 0.4};
    add("multitask", "multitask",
        "Multitask CNN: shared trunk, valence/energy/danceability heads (0.5/0.1/0.4)", s);
  }
  return plan;
}

}  // namespace melgrad::experiments
