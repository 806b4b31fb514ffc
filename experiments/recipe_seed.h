// `--recipe seed`: every experiment with the settings of the study's own notebook
// (lab3.ipynb of the public repository PKininis/Multitask-Music-Emotion), as read from it.
// docs/EXPERIMENTS.md sets them beside the default recipe, experiment by experiment.
//
// What the notebook fixes, in short: no BatchNorm in any reported run (where asked for, it
// comes after the ReLU); the CNN image is [N, 1, F, T]; no standardisation of the inputs;
// early stopping with an epoch cap of 2500 (2000 for the LSTM regression grids); Adam with
// per-experiment learning rates, weight decays, patiences and dropouts; the BiLSTM with
// dropout between its layers and on its outputs; the regression CNN on full clips with
// validation 0.12 / test 0.28 of the labelled clips (0.28 / 0.12 elsewhere); the LSTM
// regression grids per attribute with the notebook's axes and its winners as the final
// LSTM regressors. Options given on the command line win over the recipe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "experiments/experiment.h"
#include "experiments/grid.h"
#include "experiments/study.h"

namespace melgrad::experiments {

// "default" or "seed"; anything else is a cli::UsageError naming --recipe.
std::string parse_recipe(const std::string& name);

// Whether the user gave an option (by its name without "--") on the command line.
using OptionGiven = std::function<bool(const std::string& option)>;

// Sets `spec` to the notebook's settings for its command, model, sub-set (beat or full),
// features and target, except the settings whose option was given.
void apply_seed_recipe(ExperimentSpec& spec, const OptionGiven& given);

// The notebook's LSTM regression grid of one attribute: spec.base gets the grid's settings
// (apply_seed_recipe, epoch cap 2000), and the axes those of the notebook's grid for
// spec.target, except the options given (--hidden-sizes, --layer-counts, --lrs, --losses).
void apply_seed_grid_recipe(GridSpec& grid, const OptionGiven& given);

// The final LSTM regressor of an attribute: the winning cell of the notebook's grid.
struct LstmRegressorSettings {
  int64_t hidden = 0, layers = 0;
  double lr = 0;
  std::string loss;
};
LstmRegressorSettings seed_lstm_regressor(const std::string& target);

// The notebook's experiment list, in its order, for `melgrad study --recipe seed`.
// options.quick: two epochs each and networks scaled down (CNN channels / 8, LSTM hidden
// at most 16 and layers at most 2, grids reduced to their winner's lr), a smoke test of the
// pipeline rather than of the settings.
std::vector<StudyExperiment> seed_study_plan(const StudyOptions& options);

}  // namespace melgrad::experiments
