#!/usr/bin/env bash
# What a user does first with an installed DLNest: create the MNIST project, train it on a small
# subset, continue it, analyze it. Exits non-zero at the first step that fails.
#   scenario.sh DLNEST WORK_DIR
set -euo pipefail
dlnest=$1
work=$2
project=$work/fmnist
step() { echo "== scenario: $*"; }

step "dlnest new"
"$dlnest" new -d "$project" --mnist
test -f "$project/.gitignore"
test -f "$project/compile_commands.json"

step "train 1 epoch of 512 images"
echo '{"train_subset": 512, "test_subset": 256, "epochs": 1}' > "$work/quick.json"
"$dlnest" run -c "$project/root_config.json" -f "$work/quick.json" -d scenario --foreground
package=$(ls -d "$project"/Saves/*/ | head -n 1)
package=${package%/}

step "continue $package for a second epoch"
sed -i 's/"epochs": 1/"epochs": 2/' "$package/args.json"
"$dlnest" continue -r "$package" --foreground
test "$(grep -c '"kind":"epoch"' "$package/metrics.jsonl")" -eq 2

step "analyze $package with getAcc"
"$dlnest" analyze -r "$package" --cpu --foreground -s "$package/AnalyzeScripts/getAcc.cpp" |
  tee "$work/analyze.txt"
grep -qi "acc" "$work/analyze.txt"
step "done"
