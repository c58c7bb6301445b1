#!/usr/bin/env bash
# Soak test (not CI): minutes of mixed concurrent load, then conservation
# checks and RSS readings once a minute. SOAK_MINUTES (default 10) sets
# the length; SOAK_SECONDS overrides it for a short run.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_MINUTES="${SOAK_MINUTES:-10}"
cargo test --release --test soak -- --ignored --nocapture
