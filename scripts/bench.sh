#!/usr/bin/env bash
# Run every benchmark in bench/ and print their JSON, one document per line of output.
# Usage: scripts/bench.sh [--quick]   (CI passes --quick so the scripts cannot rot)
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in bench/bench_*.py; do
  echo "== ${bench}" >&2
  python "${bench}" "$@"
done
