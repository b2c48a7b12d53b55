#!/usr/bin/env bash
# The main job: build DLNest, create the Fashion-MNIST project, train it on the CPU in the
# foreground and print its test accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what the job runs: the two binaries, the SDK and the precompiled header of projects.
scripts/build.sh dlnest dlnest-worker dlnest_sdk dlnest_script_pch
dlnest=build/bin/dlnest
project=build/mnist-demo
if [ ! -d "$project" ]; then
  $dlnest new -d "$project" --mnist
fi
$dlnest run -c "$project/root_config.json" -d "main job" --foreground
package=$(ls -td "$project"/Saves/*/ | head -n 1)
package=${package%/}
echo
$dlnest package show "$package"
echo
echo "== epoch records of $package/metrics.jsonl"
grep '"kind":"epoch"' "$package/metrics.jsonl"
acc=$(grep '"kind":"epoch"' "$package/metrics.jsonl" | tail -n 1 | grep -o '"acc":[0-9.]*' |
  cut -d: -f2)
echo
echo "test accuracy after the last epoch: $(awk -v a="$acc" 'BEGIN { printf "%.2f%%", 100 * a }')"
