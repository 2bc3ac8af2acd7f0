#!/usr/bin/env bash
# Installs what is missing, then configures, builds and tests each preset given (default: ci).
#   scripts/test.sh                 the CI build: RelWithDebInfo, warnings are errors
#   scripts/test.sh asan tsan       the sanitizer builds
# Tests that need root, TUN or namespaces skip with a reason when they cannot run; with
# NK_REQUIRE_PRIVILEGED=1 (as .ci/run sets) such a skip is a failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

presets=("$@")
((${#presets[@]})) || presets=(ci)

bash scripts/install-deps.sh
for preset in "${presets[@]}"; do
  bash scripts/build.sh "$preset"
  echo "==> test preset '$preset'"
  ctest --preset "$preset"
done
