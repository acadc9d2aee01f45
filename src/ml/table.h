// Tabular data for the algorithmic side (src/ml): named columns, numeric or string, with missing
// cells, read from CSV or .npy.
//
//   CsvOptions opts;                       // header row, ',' separated
//   opts.types["zip"] = ColumnKind::kString;  // override the inferred kind
//   auto table = ReadCsv("data.csv", opts);  // StatusOr<Table>
//   auto x = table->NumericMatrix({"age", "income"});  // rows x 2, NaN where missing
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"

namespace hone::ml {

enum class ColumnKind { kNumeric, kString };

struct Column {
  std::string name;
  ColumnKind kind = ColumnKind::kNumeric;
  std::vector<double> numbers;       // kNumeric: one per row, NaN = missing
  std::vector<std::string> strings;  // kString: one per row
  std::vector<bool> missing;         // kString: true where the cell was missing

  int64_t missing_count() const;
};

struct Table {
  std::vector<Column> columns;
  int64_t rows = 0;

  // -1 when absent.
  int index(const std::string& name) const;
  // Row-major float32 [rows, names.size()] of numeric columns (NaN where missing); all columns
  // when `names` is empty. A string column is an error naming it.
  StatusOr<Tensor> NumericMatrix(const std::vector<std::string>& names = {}) const;
};

struct CsvOptions {
  char delimiter = ',';
  bool header = true;  // false: columns are named c0, c1, ...
  // Cells read as missing (besides the empty cell), compared exactly.
  std::vector<std::string> missing = {"NA", "NaN", "nan", "N/A", "null", "NULL"};
  std::map<std::string, ColumnKind> types;  // overrides the inferred kind, by column name
};

// RFC 4180 quoting ("a,b" and "" inside quotes); CRLF or LF line ends. A column is numeric when
// every non-missing cell parses as a number, else string. Errors name the file, line and column.
StatusOr<Table> ReadCsv(const std::string& path, const CsvOptions& options = {});
StatusOr<Table> ParseCsv(const std::string& text, const CsvOptions& options = {},
                         const std::string& what = "csv data");

// A 1-D or 2-D numeric .npy array as a table (columns c0, c1, ...; one column for 1-D).
StatusOr<Table> TableFromTensor(const Tensor& t);

// ReadCsv for *.csv, else ReadNpy + TableFromTensor with options.types applied (a column typed
// kString holds its numbers as text).
StatusOr<Table> ReadTable(const std::string& path, const CsvOptions& options = {});

}  // namespace hone::ml
