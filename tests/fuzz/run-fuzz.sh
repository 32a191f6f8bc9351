#!/usr/bin/env bash
# run-fuzz.sh BINARY SEED_CORPUS SECONDS: a short libFuzzer run that replays
# the seed corpus first; new inputs go to a scratch directory, not the seeds.
set -euo pipefail
bin=$1 seeds=$2 seconds=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Not exec: the trap must run after the fuzzer; set -e keeps its exit status.
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$scratch" "$seeds"
