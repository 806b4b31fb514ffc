// Options given with --resume against the run's config.json (see resume_options.h).
#include "experiments/resume_options.h"

#include <filesystem>

#include "experiments/model_config.h"
#include "experiments/run_folder.h"

namespace melgrad::experiments {
namespace {

using json = nlohmann::json;

// The option list of a command, so that options it does not take are not asked about.
bool takes(const cli::Args& args, const std::string& name) {
  try {
    return args.has(name);
  } catch (const cli::UsageError&) {
    return false;  // not an option of this command
  }
}

std::string as_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string s;
    for (const json& e : v) s += (s.empty() ? "" : ",") + as_text(e);
    return s;
  }
  return v.dump();
}

class ResumeCheck {
 public:
  ResumeCheck(const cli::Args& args, std::string run_dir, json config)
      : args_(args), run_dir_(std::move(run_dir)), config_(std::move(config)) {}

  [[noreturn]] void conflict(const std::string& option, const std::string& given,
                             const std::string& run_value) const {
    throw cli::UsageError("option --" + option + given + " conflicts with the run in '" + run_dir_ +
                          "', which used " + run_value +
                          "; --resume continues the run with its own "
                          "settings (leave --" +
                          option + " out, or start a new run)");
  }

  // --option VALUE against the config value at `where` (a string or number).
  void value(const std::string& option, const json* where,
             const std::string& run_option_text = "") {
    if (!takes(args_, option)) return;
    const std::string given = args_.str(option);
    if (!where) conflict(option, " " + given, "a network without it (" + network_type() + ")");
    bool same = false;
    if (where->is_number())
      same = args_.number(option) == where->get<double>();
    else if (where->is_array())
      same = given == as_text(*where) ||
             (where->size() && where->at(0).is_number() &&
              parse_number_list(given, option) == where->get<std::vector<double>>());
    else
      same = given == as_text(*where);
    if (!same)
      conflict(option, " " + given,
               "--" + option + " " + (run_option_text.empty() ? as_text(*where) : run_option_text));
  }

  // A flag given with --resume that the run did not use.
  void flag(const std::string& option, bool run_had_it, const std::string& run_text) {
    if (takes(args_, option) && args_.flag(option) && !run_had_it) conflict(option, "", run_text);
  }

  const json* model_field(const char* key) const {
    const json& mc = config_.at("model_config");
    return mc.contains(key) ? &mc.at(key) : nullptr;
  }
  const json* field(const char* key) const {
    return config_.contains(key) ? &config_.at(key) : nullptr;
  }
  std::string network_type() const {
    return config_.at("model_config").value("type", std::string("?"));
  }

  void run() {
    const bool lstm = network_type() == "lstm";
    value("model", field("model"));
    value("features", field("features"));
    flag("beat", config_.value("beat", false), "full clips (no --beat)");
    value("batch-size", field("batch_size"));
    value("lr", field("lr"));
    value("weight-decay", field("weight_decay"));
    value("patience", field("patience"));
    value("clip-grad", field("clip_grad_norm"));
    value("seed", field("seed"));
    value("split-seed", field("split_seed"));
    if (takes(args_, "data")) {
      const std::string given = describe_data_dir(args_.str("data")).path;
      const std::string theirs = config_.at("data").value("path", std::string());
      if (given != theirs) conflict("data", " " + args_.str("data"), "--data " + theirs);
    }
    value("channels", lstm ? nullptr : model_field("channels"));
    value("pool", lstm ? nullptr : model_field("pool"));
    value("frames", lstm ? nullptr : model_field("frames"));
    value("dropout", model_field("dropout"));
    value("hidden", lstm ? model_field("hidden") : nullptr);
    value("layers", lstm ? model_field("layers") : nullptr);
    value("max-frames", lstm ? model_field("max_frames") : nullptr);
    if (!lstm) {
      flag("no-batch-norm", !model_field("batch_norm") || !model_field("batch_norm")->get<bool>(),
           "BatchNorm2d (no --no-batch-norm)");
      flag("running-stats",
           model_field("track_running_stats") && model_field("track_running_stats")->get<bool>(),
           "batch statistics (no --running-stats)");
    } else {
      flag("no-batch-norm", false, "an LSTM (no --no-batch-norm)");
      flag("running-stats", false, "an LSTM (no --running-stats)");
    }
    flag("no-standardise", !config_.contains("standardisation"),
         "standardised bands (no --no-standardise)");
    if (takes(args_, "target") && config_.contains("targets"))
      value("target", &config_.at("targets").at(0));
    value("loss", field("loss"));
    value("weights", field("target_weights"));
    if (config_.contains("transfer")) {
      value("from", &config_["transfer"].at("from"));
      flag("freeze-trunk", config_["transfer"].value("freeze_trunk", false),
           "a trainable trunk (no --freeze-trunk)");
    }
  }

 private:
  const cli::Args& args_;
  std::string run_dir_;
  json config_;
};

}  // namespace

void check_resume_options(const cli::Args& args, const std::string& run_dir) {
  const std::filesystem::path path = std::filesystem::path(run_dir) / "config.json";
  if (!std::filesystem::is_regular_file(path)) return;
  const json config = read_json_file(path.string());
  if (!config.is_object() || !config.contains("model_config"))
    return;  // refused by the resume itself
  ResumeCheck(args, run_dir, config).run();
}

}  // namespace melgrad::experiments
