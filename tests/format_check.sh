#!/usr/bin/env bash
# Fails when a tracked C++ file is not clang-format clean (.clang-format at the root).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
command -v clang-format >/dev/null || { echo "SKIPPED: clang-format not installed"; exit 77; }
files=$(git ls-files '*.cc' '*.h' 2>/dev/null) || { echo "SKIPPED: not a git checkout"; exit 77; }
clang-format --dry-run -Werror $files && echo "clang-format: $(echo "$files" | wc -l) files clean"
