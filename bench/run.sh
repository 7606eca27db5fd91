#!/usr/bin/env bash
# The benchmarks of docs/PERFORMANCE.md: generates the data, builds the release binary, installs
# the peer (csv-diff) in a virtualenv, and measures everything side by side in one run.
set -euo pipefail
cd "$(dirname "$0")"
[ -f data/1m/WebProducts.csv ] || python3 gen.py 1000000 data/1m
[ -f data/100k/WebProducts.csv ] || python3 gen.py 100000 data/100k
if [ ! -x .venv/bin/csv-diff ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet 'csv-diff==1.2'
fi
(cd .. && cargo build --release -p storesync-local --quiet)
python3 measure.py ../target/release/storesync .venv/bin/csv-diff
