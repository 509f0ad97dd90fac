#!/usr/bin/env bash
# Runs every libFuzzer binary BUILD_DIR/tests/fuzz/fuzz_* for SECONDS each (FUZZ_JOBS at a
# time, default one per core),
# on a temporary copy of its seed corpus (so new inputs do not land in the
# repo) with its dictionary (tests/fuzz/<name>.dict, else tests/fuzz/http.dict).
# Exits non-zero if any target crashes, leaks, times out or fails to start;
# crash inputs are kept in the printed work directory.
# Usage: tests/fuzz/run-all.sh BUILD_DIR SECONDS
set -u -o pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build_dir=$1
seconds=$2
src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-fuzz.XXXXXX")

shopt -s nullglob
targets=("$build_dir"/tests/fuzz/fuzz_*)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "no fuzz_* binaries in $build_dir/tests/fuzz (configure with -DPORTCULLIS_FUZZ=ON and clang)" >&2
  exit 2
fi

# One target per core at a time: each libFuzzer run is single-threaded.
jobs=${FUZZ_JOBS:-$(nproc)}

run_one() {
  local bin=$1 name corpus artifacts dict
  name=$(basename "$bin")
  name=${name#fuzz_}
  corpus="$work/$name/corpus"
  artifacts="$work/$name/artifacts/"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d $src_dir/corpus/$name ]]; then
    cp -R "$src_dir/corpus/$name/." "$corpus/"
  fi
  dict=$src_dir/$name.dict
  [[ -f $dict ]] || dict=$src_dir/http.dict
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -dict="$dict" -artifact_prefix="$artifacts" "$corpus" > "$work/$name/log" 2>&1; then
    echo "=== $name: ${seconds}s, dict $(basename "$dict"): $(grep -E '^stat::number_of_executed_units|^Done' "$work/$name/log" | tr '\n' ' ')"
  else
    echo "!!! $name FAILED; log and inputs in $work/$name" >&2
    tail -n 30 "$work/$name/log" >&2
    touch "$work/$name/FAILED"
  fi
}

running=0
for bin in "${targets[@]}"; do
  [[ -x $bin && -f $bin ]] || continue
  if (( running >= jobs )); then
    wait -n
    running=$((running - 1))
  fi
  run_one "$bin" &
  running=$((running + 1))
done
wait

failed=()
for marker in "$work"/*/FAILED; do
  failed+=("$(basename "$(dirname "$marker")")")
done

if [[ ${#failed[@]} -ne 0 ]]; then
  echo "fuzz failures: ${failed[*]} (work dir $work)" >&2
  exit 1
fi
rm -rf "$work"
echo "all fuzz targets ran clean"
