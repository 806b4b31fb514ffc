// The LSTM regression grid of REFERENCE §2 (hidden 200/600 x layers 2/3/5 x lr 1e-5/5e-6 x
// loss MSE/L1/SmoothL1 on one attribute): one ordinary run folder per cell below the grid
// folder, and GRID_DIR/grid.json + metrics.json. The best cell is the one with the highest
// validation Spearman at its best checkpoint (validation losses of different loss
// functions cannot be compared).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/experiment.h"

namespace melgrad::experiments {

struct GridSpec {
  ExperimentSpec base;  // an LSTM regress spec (data, epochs, features, beat, seed, ...)
  std::string target = "valence";
  std::vector<int64_t> hidden{200, 600};
  std::vector<int64_t> layers{2, 3, 5};
  std::vector<double> lrs{1e-5, 5e-6};
  std::vector<std::string> losses{"mse", "l1", "smooth_l1"};
  std::string out;      // GRID_DIR
  bool resume = false;  // skip finished cells, resume an interrupted one
};

// Runs every cell; returns metrics.json's object. Throws Interrupted on Ctrl-C.
nlohmann::json run_grid(const GridSpec& grid);

}  // namespace melgrad::experiments
