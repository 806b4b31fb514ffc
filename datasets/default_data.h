// Where melgrad keeps generated and cached data, and the embedded default data set.
//
// cache_root(): $MELGRAD_CACHE, else $XDG_CACHE_HOME/melgrad, else $HOME/.cache/melgrad,
// else ./.cache/melgrad. Below it:
//   datasets/patreco3-synthetic-<size>-seed<N>-v<generator version>/   generated data sets
//   h5/<subset>-<hash of the data path>.h5                              load caches (h5_cache.h)
#pragma once

#include <cstdint>
#include <string>

#include "datasets/synth_dataset.h"

namespace melgrad::data {

std::string cache_root();

// The embedded default data set: generated on first use (into a temp folder renamed into
// place when complete, so an interrupted run never leaves half a data set; a concurrent
// generator that wins the rename is used as is) and reused afterwards. Returns its path.
// `log` true: one line on stderr when generation starts and ends.
std::string default_data_dir(DatasetSize size = DatasetSize::small, uint64_t seed = 42,
                             bool log = true);

// The data folder a command should use: `data_arg` when given, else default_data_dir().
std::string resolve_data_dir(const std::string& data_arg, uint64_t seed = 42);

}  // namespace melgrad::data
