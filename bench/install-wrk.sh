#!/usr/bin/env bash
# wrk for `make bench`: Debian's package, installed when missing (as .ci/run does for Chromium).
set -euo pipefail
if ! command -v wrk >/dev/null 2>&1; then
  echo "bench: installing wrk"
  apt-get update -qq
  apt-get install -y -qq wrk >/dev/null
fi
