// hone: run, inspect and benchmark ONNX models.
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli.h"

int main(int argc, char** argv) {
  CLI::App app{
      "hone: makes trained ONNX models fast where they are deployed.\n"
      "Run `hone SUBCOMMAND --help` for the options of each subcommand."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hone 0.1.0");
  std::vector<std::pair<CLI::App*, hone::cli::Runner>> subs;
  auto add = [&](const char* name, const char* help, auto setup) {
    CLI::App* sub = app.add_subcommand(name, help);
    subs.emplace_back(sub, setup(*sub));
  };
  add("info", "Show a model's opsets, inputs, outputs, op histogram and parameters",
      hone::cli::SetupInfo);
  add("run", "Run a model on .npy inputs (or random ones) and write .npy outputs",
      hone::cli::SetupRun);
  add("bench", "Measure session creation, latency percentiles and peak memory",
      hone::cli::SetupBench);
  add("optimize", "Run the graph optimisation passes and write the optimised model as ONNX",
      hone::cli::SetupOptimize);
  add("quantize", "Quantize a float model to int8 (QDQ ONNX) from calibration samples",
      hone::cli::SetupQuantize);
  add("pca", "Principal components of a CSV or .npy matrix (explained variance, projection, ONNX)",
      hone::cli::SetupPca);
  add("tsne", "A 2-D t-SNE embedding of a CSV or .npy matrix, with an SVG scatter plot",
      hone::cli::SetupTsne);
  add("eval", "Top-1 accuracy against labels, or agreement with a reference model",
      hone::cli::SetupEval);
  add("fit", "Fit a preprocessing + model pipeline to a CSV by cross-validated search; write ONNX",
      hone::cli::SetupFit);
  add("serve", "Serve a model repository over KServe v2 REST (Triton's layout and config.pbtxt)",
      hone::cli::SetupServe);
  add("conformance", "Run ONNX backend test cases and report pass/fail counts",
      hone::cli::SetupConformance);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& [sub, run] : subs)
    if (sub->parsed()) return run();
  return 2;
}
