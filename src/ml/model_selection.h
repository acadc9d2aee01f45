// Cross-validation folds as scikit-learn makes them without shuffling (KFold: contiguous blocks,
// the first n % k folds one row larger; StratifiedKFold: each class's rows dealt to the folds in
// order so every fold keeps the class proportions), a train/test split, and a search that
// evaluates every (candidate, fold) pair on a pool of worker threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hone/status.h"

namespace hone::ml {

struct Fold {
  std::vector<int64_t> train, test;  // row indices, ascending
};

// Folds over `rows` (indices into the data, in order). Both fail when k < 2 or there are fewer
// than k rows; StratifiedKFold also when a fold would get no rows. labels[i] is the class of
// rows[i].
StatusOr<std::vector<Fold>> KFold(const std::vector<int64_t>& rows, int k);
StatusOr<std::vector<Fold>> StratifiedKFold(const std::vector<int64_t>& rows,
                                            const std::vector<int32_t>& labels, int k);

// A seeded shuffled split of 0..n-1: `test_fraction` of the rows to test (stratified by
// `labels` when given, one per row), the rest to train; both ascending.
Fold TrainTestSplit(int64_t n, double test_fraction, uint64_t seed,
                    const std::vector<int32_t>* labels = nullptr);

// One candidate's parameters, by name ("C" -> "0.1").
using Params = std::map<std::string, std::string>;

// Every combination of the values (in the order given; the last name varies fastest).
std::vector<Params> Grid(const std::vector<std::pair<std::string, std::vector<std::string>>>& grid);

// `n` candidates drawn with `seed`. Each parameter's values are either a list to choose from
// uniformly, or one distribution: "uniform:LO:HI", "loguniform:LO:HI" (LO > 0) or
// "randint:LO:HI" (integers LO..HI inclusive). A malformed distribution is an error naming it.
StatusOr<std::vector<Params>> RandomCandidates(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& space, int n,
    uint64_t seed);
// True when `values` is one distribution ("uniform:...", "loguniform:...", "randint:...").
bool IsDistribution(const std::vector<std::string>& values);

struct CandidateResult {
  Params params;
  std::vector<double> fold_scores;
  double mean_score = 0, std_score = 0;
  double mean_fit_seconds = 0;
  int rank = 0;           // 1 = best
  int iteration = 0;      // successive halving: the round that scored it (0 otherwise)
  int64_t resources = 0;  // successive halving: training rows in that round
};

struct SearchOptions {
  int threads = 1;  // workers, each fitting one (candidate, fold) at a time
  // Called after each finished fit with (done, total); from worker threads, one at a time.
  std::function<void(int, int)> progress;
};

// Scores every candidate on every fold with fit_score(params, fold) -> score (higher is
// better). The first failing fit stops the search and its status is returned. Ranks by mean
// score (ties: the earlier candidate), as GridSearchCV does.
StatusOr<std::vector<CandidateResult>> Search(
    const std::vector<Params>& candidates, const std::vector<Fold>& folds,
    const std::function<StatusOr<double>(const Params&, const Fold&)>& fit_score,
    const SearchOptions& options = {});

}  // namespace hone::ml
