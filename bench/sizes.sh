#!/usr/bin/env bash
# Stripped sizes of the Lambda binaries, built with the `lambda` profile (opt-level z, fat LTO).
set -euo pipefail
cd "$(dirname "$0")/.."
bins=(import-web export-orders import-comax validate export-inventory admin-api)
cargo build --profile lambda --quiet $(printf -- '-p %s ' "${bins[@]}")
for b in "${bins[@]}"; do
  printf '%-18s %6.1f MB\n' "$b" "$(echo "$(stat -c %s "target/lambda/$b") / 1048576" | bc -l)"
done
