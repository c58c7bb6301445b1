#!/usr/bin/env bash
# The hit-ratio suite and its libCacheSim referee, in one command:
# makes target/venv-referee (libcachesim from PyPI, first run only), writes
# the traces to target/traces/, prints ours beside libCacheSim's, writes
# target/hit_ratio/table.md and docs/img/hit_ratio_<trace>.svg, and exits
# non-zero when latchwork's LruCache and libCacheSim's LRU disagree.
# Arguments go to scripts/hit_ratio_referee.py (--help). Not part of CI: it
# downloads from PyPI and takes a couple of minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/hit_ratio_referee.py "$@"
