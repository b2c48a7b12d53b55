#!/usr/bin/env bash
# build_time_bench.sh: how long a user waits for builds (docs/benchmarks.md, "Build times"), the
# ways of building compared in one run, interleaved:
#   gcc         projects: g++ without a precompiled header (DLNest's CMake package without its
#               toolchain file); scripts: g++ with a GCC precompiled header (.gch)
#   clang_pch   projects and scripts: clang++ with DLNest's precompiled header (.pch), what
#               DLNest does when clang++ is installed
# ccache is off for both (CCACHE_DISABLE=1): a cold build means cold. Then one more project of
# clang_pch with ccache on and warm (the sources of an earlier project): the build of a new
# project made from a template that was built before.
#
# Times, each from the start of the command:
#   cold     `dlnest new --mnist` then `dlnest run --foreground` until the worker starts training
#            ("[dlnest] train ..."): configure, compile, link, package
#   change   one changed .cpp (Model/Runner.cpp), `dlnest run --foreground` until training starts
#   same     nothing changed, `dlnest run --foreground` until training starts
#   script   `dlnest analyze --foreground -s getAcc.cpp`: the analyzer's compile time of a script
#            never compiled before ("compiled getAcc.cpp in X s")
#   cached   the same script again: from the package loaded to the script running ("compiled
#            before"): the cache check, then dlopen
#
# Run after scripts/build.sh. Settings (environment): REPS=2 BUILD=build WORK=(a temp folder)
#   NINJA=ninja   how to run ninja (e.g. "flock /tmp/build.lock ninja" on a shared build folder)
set -euo pipefail
trap 'echo "build_time_bench: failed at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."
REPS=${REPS:-2}
BUILD=$(cd "${BUILD:-build}" && pwd)
WORK=${WORK:-$(mktemp -d)}
dlnest=$BUILD/bin/dlnest
toolchain=$BUILD/share/dlnest/toolchain

${NINJA:-ninja} -C "$BUILD" dlnest dlnest-worker dlnest_sdk dlnest_script_pch > /dev/null
echo '{"train_subset": 64, "test_subset": 64, "epochs": 1}' > "$WORK/quick.json"

# gcc: the CMake package without the toolchain file, in a prefix of its own (so it finds no
# precompiled header either), and a toolchain folder for scripts with g++ and its .gch.
mkdir -p "$WORK/gcc/lib/cmake" "$WORK/gcc/share/dlnest/toolchain"
cp -r "$BUILD/lib/cmake/DLNest" "$WORK/gcc/lib/cmake/"
rm "$WORK/gcc/lib/cmake/DLNest/DLNestToolchain.cmake"
cp "$toolchain/dlnest_script.h" "$toolchain/build_script_pch.cmake" "$WORK/gcc/share/dlnest/toolchain/"
sed "1s|.*|$(command -v g++)|" "$toolchain/script_flags.txt" > "$WORK/gcc/share/dlnest/toolchain/script_flags.txt"
echo "== precompiling the GCC header of scripts"
cmake -DTOOLCHAIN_DIR="$WORK/gcc/share/dlnest/toolchain" -P "$toolchain/build_script_pch.cmake"

# Runs the command and prints the seconds until its output has a line starting with $1.
seconds_until() {
  local marker=$1 start
  shift
  start=$(date +%s.%N)
  { "$@" 2>&1 || true; } | while IFS= read -r line; do
    echo "$line" >> "$WORK/log.txt"
    if [[ $line == "$marker"* ]]; then echo "$(date +%s.%N) - $start" | bc; fi
  done | head -n 1
}

# Runs the command and prints the seconds from its output line starting with $1 to the one
# starting with $2.
seconds_between() {
  local from=$1 to=$2 start=
  shift 2
  { "$@" 2>&1 || true; } | while IFS= read -r line; do
    echo "$line" >> "$WORK/log.txt"
    if [[ $line == "$from"* ]]; then start=$(date +%s.%N); fi
    if [[ $line == "$to"* && -n $start ]]; then echo "$(date +%s.%N) - $start" | bc; fi
  done | head -n 1
}

# One project of one variant: cold, change, same, script, cached (tab-separated).
measure() {
  local variant=$1 rep=$2 project=$WORK/$1-$2
  local -a with=(env CCACHE_DISABLE=1 "$dlnest")
  [[ $variant == gcc ]] && with=(env CCACHE_DISABLE=1
    DLNEST_CMAKE_DIR="$WORK/gcc/lib/cmake/DLNest" DLNEST_TOOLCHAIN_DIR="$WORK/gcc/share/dlnest/toolchain"
    "$dlnest")
  [[ $variant == clang_pch_ccache ]] && with=("$dlnest")
  local run=(run -c "$project/root_config.json" -f "$WORK/quick.json" --foreground)
  local cold change same script cached package
  local start=$(date +%s.%N)
  "${with[@]}" new -d "$project" --mnist > /dev/null
  local new_seconds=$(echo "$(date +%s.%N) - $start" | bc)
  cold=$(echo "$new_seconds + $(seconds_until "[dlnest] train" "${with[@]}" "${run[@]}")" | bc)
  echo "// changed $(date +%s%N)" >> "$project/Model/Runner.cpp"
  change=$(seconds_until "[dlnest] train" "${with[@]}" "${run[@]}")
  same=$(seconds_until "[dlnest] train" "${with[@]}" "${run[@]}")
  package=$(ls -td "$project"/Saves/*/ | head -n 1)
  package=${package%/}
  local analyze=(analyze -r "$package" --cpu --foreground -s "$package/AnalyzeScripts/getAcc.cpp")
  script=$("${with[@]}" "${analyze[@]}" 2>&1 | tee -a "$WORK/log.txt" |
    sed -n 's/.*compiled getAcc.cpp in \([0-9.]*\) s.*/\1/p')
  cached=$(seconds_between "[DLNest Analyze Process] loaded checkpoint" \
    "[DLNest Analyze Process] running getAcc" "${with[@]}" "${analyze[@]}")
  printf '%s\t%s\t%.1f\t%.1f\t%.2f\t%s\t%.2f\n' "$variant" "$rep" "$cold" "$change" "$same" \
    "$script" "$cached"
}

printf 'variant\trep\tcold\tchange\tsame\tscript\tcached\n'
for ((rep = 1; rep <= REPS; rep++)); do
  measure gcc "$rep"
  measure clang_pch "$rep"
done
measure clang_pch_ccache 1
du -b "$toolchain"/dlnest_script.h.?ch "$WORK"/gcc/share/dlnest/toolchain/dlnest_script.h.?ch |
  awk '{ printf "precompiled header %s: %.0f MB\n", $2, $1 / 1e6 }'
echo "uptime: $(uptime)"
