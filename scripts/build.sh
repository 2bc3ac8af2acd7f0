#!/usr/bin/env bash
# Configures and builds one preset from CMakePresets.json, on all cores.
#   scripts/build.sh PRESET        e.g. scripts/build.sh debug
set -euo pipefail

if (($# != 1)); then
  echo "usage: $0 PRESET   (presets: default ci debug asan tsan fuzz)" >&2
  exit 2
fi
preset=$1
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> configure preset '$preset'"
cmake --preset "$preset"
echo "==> build preset '$preset'"
cmake --build --preset "$preset" -j"$(nproc)"
