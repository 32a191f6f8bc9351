#!/usr/bin/env bash
# Runs every benchmark binary built under BUILD_DIR/bench with its defaults and
# keeps each output in bench/out/<name>-<UTC date>.txt.
#   scripts/run-benches.sh BUILD_DIR [ARGS...]   (ARGS go to every benchmark)
# Benchmarks are not tests: they report figures and targets, and this script
# fails only when a benchmark itself fails (exit status != 0).
# repl_bootstrap_bench (1,000,000 messages by default) keeps its generated
# data under BUILD_DIR/bench-data between runs; the first run spends a few
# minutes making it.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [ARGS...]" >&2
  exit 2
fi
build_dir=$1
shift
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out_dir=$repo/bench/out
mkdir -p "$out_dir"

shopt -s nullglob
benches=()
for bin in "$build_dir"/bench/*_bench; do
  [[ -f $bin && -x $bin ]] && benches+=("$bin")
done
if [[ ${#benches[@]} -eq 0 ]]; then
  echo "no benchmark binaries under $build_dir/bench (build first: cmake --build $build_dir)" >&2
  exit 1
fi

failed=()
for bin in "${benches[@]}"; do
  name=$(basename "$bin")
  out=$out_dir/$name-$(date -u +%Y%m%dT%H%M%SZ).txt
  echo "== $name -> $out"
  if ! "$bin" "$@" 2>&1 | tee "$out"; then
    failed+=("$name")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
