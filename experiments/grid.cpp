// The LSTM regression grid (see grid.h).
#include "experiments/grid.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/dist/transport.h"
#include "experiments/evaluation.h"

namespace fs = std::filesystem;

namespace melgrad::experiments {

static std::string cell_name(int64_t hidden, int64_t layers, double lr, const std::string& loss) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "h%lld-l%lld-lr%g-%s", (long long)hidden, (long long)layers, lr,
                loss.c_str());
  return buf;
}

// How far along a cell's folder is, for resuming.
static RunDirMode cell_mode(const fs::path& dir) {
  if (fs::exists(dir / "last.h5") && fs::exists(dir / "config.json")) return RunDirMode::resume;
  return RunDirMode::force;  // nothing usable yet (or only a config.json)
}

nlohmann::json run_grid(const GridSpec& g) {
  if (g.out.empty()) throw std::invalid_argument("grid: no output folder");
  const bool writer = dist::world().rank() == 0;  // mpirun: rank 0 alone writes
  RunFolderLock lock;  // held until the grid ends: a second grid on --out is refused
  if (writer) lock = lock_parent_run_dir(g.out, !g.resume);
  const size_t cells = g.hidden.size() * g.layers.size() * g.lrs.size() * g.losses.size();
  nlohmann::json rows = nlohmann::json::array();
  size_t index = 0;
  double best_val_rho = -2;
  nlohmann::json best;
  for (int64_t hidden : g.hidden)
    for (int64_t layers : g.layers)
      for (double lr : g.lrs)
        for (const std::string& loss : g.losses) {
          ++index;
          const std::string name = cell_name(hidden, layers, lr, loss);
          const fs::path dir = fs::path(g.out) / name;
          ExperimentSpec s = g.base;
          s.kind = ExperimentKind::regress;
          s.model = "lstm";
          s.targets = {g.target};
          s.lstm.hidden = hidden;
          s.lstm.layers = layers;
          s.lr = lr;
          s.loss = loss;
          s.out = dir.string();
          s.label = "grid " + std::to_string(index) + "/" + std::to_string(cells) + " " + name;
          nlohmann::json metrics;
          if (g.resume && fs::exists(dir / "metrics.json")) {
            metrics = read_json_file((dir / "metrics.json").string());
          } else {
            s.mode = g.resume ? cell_mode(dir) : RunDirMode::fresh;
            metrics = run_experiment(s);
          }
          // The validation Spearman and loss of the cell's best epoch, from its log.
          double val_loss = NAN, val_rho = NAN;
          const int64_t best_epoch = metrics.value("best_epoch", int64_t(0));
          for (const nlohmann::json& line : read_json_lines((dir / "log.jsonl").string()))
            if (line.value("epoch", int64_t(-1)) == best_epoch) {
              val_loss = line.value("val_loss", NAN);
              const auto& r = line["val_spearman"][g.target];
              val_rho = r.is_null() ? NAN : r.get<double>();
            }
          nlohmann::json row = {{"hidden", hidden},
                                {"layers", layers},
                                {"lr", lr},
                                {"loss", loss},
                                {"target", g.target},
                                {"best_val_loss", number_or_null(val_loss)},
                                {"val_spearman", number_or_null(val_rho)},
                                {"spearman", metrics["spearman"][g.target]},
                                {"dir", name}};
          rows.push_back(row);
          if (std::isfinite(val_rho) && val_rho > best_val_rho) {
            best_val_rho = val_rho;
            best = row;
          }
          if (writer)
            write_json_file((fs::path(g.out) / "grid.json").string(),
                            {{"rows", rows}, {"best", best}});
        }
  nlohmann::json metrics = {
      {"spearman", {{g.target, best.is_null() ? nlohmann::json(nullptr) : best["spearman"]}}},
      {"best", best},
      {"cells", rows.size()}};
  if (writer) write_json_file((fs::path(g.out) / "metrics.json").string(), metrics);
  return metrics;
}

}  // namespace melgrad::experiments
