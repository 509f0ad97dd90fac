#!/usr/bin/env bash
# Fails when a C++ line changed since BASE is not formatted as .clang-format
# says (git clang-format checks the changed lines only, so old code is
# reformatted when it is touched, not in one sweeping commit).
# Usage: check-format.sh SOURCE_ROOT [BASE]   BASE defaults to tests/format/base
set -u
root=${1:?source root}
cd "$root" || exit 2
base=${2:-$(tr -d '[:space:]' < tests/format/base)}
if ! git rev-parse --verify -q "$base^{commit}" >/dev/null; then
  echo "check-format: $base is not a commit here (a shallow clone?): nothing checked"
  exit 0
fi
command -v git-clang-format >/dev/null || { echo "check-format: git-clang-format missing (apt-get install clang-format)"; exit 1; }
out=$(git clang-format --diff --extensions cpp,h "$base" -- 2>&1)
case $out in
  ""|*"no modified files to format"*|*"did not modify any files"*) echo "format OK since $base"; exit 0 ;;
esac
echo "$out"
echo "check-format: the lines above changed since $base and are not clang-formatted;"
echo "  run: git clang-format --extensions cpp,h $base"
exit 1
