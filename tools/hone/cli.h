// Shared pieces of the `hone` command-line tool: one file per subcommand registers itself here.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "hone/hone.h"

namespace hone::cli {

// The one table that maps a Status to the process exit code.
int ExitCode(const Status& s);
// Prints "hone: <message>" to stderr and returns ExitCode(s).
int Fail(const Status& s);
// Writes `bytes` to `path` (created or truncated); NotFound naming the path when it cannot.
Status WriteFile(const std::string& path, std::string_view bytes);

// `--input NAME=FILE.npy` (or `FILE.npy` when the model has one input) and `--random`: builds the
// feed for `session`. Random inputs use `seed`; symbolic dims take 1.
StatusOr<std::vector<NamedTensor>> LoadInputs(const Session& session,
                                              const std::vector<std::string>& specs, bool random,
                                              uint64_t seed);
Tensor RandomTensor(DataType dtype, const std::vector<int64_t>& shape, uint64_t seed);

// The options every subcommand that builds a session takes: --threads, --level, --reference,
// --verbose. AddSessionFlags registers them; SessionOptionsFrom checks and converts them.
struct SessionFlags {
  int threads = 0;
  std::string level = "all";
  bool reference = false;
  bool verbose = false;
  bool no_memory_plan = false;
};
void AddSessionFlags(CLI::App& app, SessionFlags& flags);
StatusOr<SessionOptions> SessionOptionsFrom(const SessionFlags& flags);

// Characters outside [A-Za-z0-9._-] become '_'.
std::string SanitizeName(const std::string& name);

using hone::JsonString;  // core/json.h

// A progress bar on stderr: "[#####.....] 12/40 fits, <extra>, 3.1 s", redrawn in place on a
// terminal, one line per call otherwise (and a newline when done == total).
void PrintProgress(int done, int total, const char* unit, const std::string& extra, double seconds);

// Subcommand registration: each returns the callback to run when its subcommand was chosen.
using Runner = std::function<int()>;
Runner SetupInfo(CLI::App& app);
Runner SetupRun(CLI::App& app);
Runner SetupBench(CLI::App& app);
Runner SetupConformance(CLI::App& app);
Runner SetupOptimize(CLI::App& app);
Runner SetupPca(CLI::App& app);
Runner SetupTsne(CLI::App& app);
Runner SetupFit(CLI::App& app);
Runner SetupEval(CLI::App& app);
Runner SetupServe(CLI::App& app);
Runner SetupQuantize(CLI::App& app);

}  // namespace hone::cli
