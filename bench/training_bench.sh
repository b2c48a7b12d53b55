#!/usr/bin/env bash
# training_bench.sh: epoch times of the MNIST template trained several ways in one run
# (docs/benchmarks.md, "Training speed"):
#   dlnest        `dlnest run --foreground` on a copy of templates/mnist
#   dlnest_w0     the same with the DataLoader's background threads off ("workers": 0)
#   dlnest_w1     the same with one background thread ("workers": 1; not in the default VARIANTS)
#   cpp_tuned     bench/handwritten_mnist with dlnest-worker's mallopt settings
#   cpp_default   bench/handwritten_mnist with glibc's default allocator settings
#   python        bench/python_mnist.py under /usr/bin/python3 (Debian's python3-torch)
#   python_tuned  the same with dlnest-worker's allocator settings (MALLOC_*_ environment)
#   lightning     bench/lightning_mnist.py: the same in PyTorch Lightning, under $LIGHTNING_PYTHON
#                 (not in the default VARIANTS)
# The variants run interleaved (in that order, REPS times); the first epoch of every run is warm-up
# and not counted. Then, unless ALLOC_CHECK=0, python and python_tuned run again on a smaller
# subset (ALLOC_SUBSET images), where glibc's default settings page-fault at every step.
#
# Run from anywhere after scripts/build.sh. Settings (environment):
#   REPS=8 EPOCHS=3 TRAIN_SUBSET=6400 BATCH_SIZE=64 TEST_SUBSET=64 ALLOC_SUBSET=3200
#                (whole runs of a process drift here, not only epochs: many short runs give steadier
#                medians than a few long ones)
#   THREADS=1    intra-op threads of every variant, set through OMP_NUM_THREADS (which libtorch
#                and OpenBLAS read; dlnest has no other knob). 1 is libtorch's default here.
#   W0=1         run the dlnest_w0 variant (0: skip it)
#   ALLOC_CHECK=1
#   BUILD=build  the configured build folder
#   RESULTS=     also copy the raw per-epoch results (TSV) to this file
#   DEVICE=cpu   cuda: train every variant on GPU 0 (scripts/gpu_check.sh)
#   VARIANTS="dlnest dlnest_w0 cpp_tuned cpp_default python python_tuned"
#                the variants to run, in this order
#   PYTHON=/usr/bin/python3   the Python of the python variants (it must have torch)
#   LIGHTNING_PYTHON=$PYTHON  the Python of the lightning variant
#   DATA_ROOT=/usr/share/datasets/fashion-mnist
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-8}
EPOCHS=${EPOCHS:-3}
TRAIN_SUBSET=${TRAIN_SUBSET:-6400}
BATCH_SIZE=${BATCH_SIZE:-64}
TEST_SUBSET=${TEST_SUBSET:-64}
ALLOC_SUBSET=${ALLOC_SUBSET:-3200}
THREADS=${THREADS:-1}
W0=${W0:-1}
ALLOC_CHECK=${ALLOC_CHECK:-1}
BUILD=${BUILD:-build}
DEVICE=${DEVICE:-cpu}
VARIANTS=${VARIANTS:-dlnest dlnest_w0 cpp_tuned cpp_default python python_tuned}
((W0)) || VARIANTS=${VARIANTS//dlnest_w0/}
PYTHON=${PYTHON:-/usr/bin/python3}
LIGHTNING_PYTHON=${LIGHTNING_PYTHON:-$PYTHON}
DATA_ROOT=${DATA_ROOT:-/usr/share/datasets/fashion-mnist}
# dlnest-worker's mallopt values (src/worker/main.cc), for the python_tuned variant.
TUNED_MALLOC=(MALLOC_MMAP_THRESHOLD_=$((32 * 1024 * 1024))
  MALLOC_TRIM_THRESHOLD_=$((1024 * 1024 * 1024)))

echo "== building dlnest, dlnest-worker and handwritten_mnist"
ninja -C "$BUILD" dlnest dlnest-worker dlnest_sdk handwritten_mnist >/dev/null
"$PYTHON" -c 'import torch' || { echo "$PYTHON has no torch (apt install python3-torch)"; exit 1; }
gpu_flags=()
[[ $DEVICE == cuda ]] && gpu_flags=(--gpu 0)
default_threads=$(env -u OMP_NUM_THREADS -u MKL_NUM_THREADS "$PYTHON" -c \
  'import torch; print(torch.get_num_threads())')
cpus=$(env -u OMP_NUM_THREADS nproc)
export OMP_NUM_THREADS=$THREADS

work=$(mktemp -d "${TMPDIR:-/tmp}/training_bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
project=$work/mnist
cp -r templates/mnist "$project"
rm -rf "$project/.dlnest" "$project/Saves"
cat bench/training_bench_life_cycle.inc >>"$project/LifeCycle.cpp"
results=$work/results.tsv
: >"$results"

steps() { echo $((($1 + BATCH_SIZE - 1) / BATCH_SIZE)); }

# freq_file EPOCHS TRAIN_SUBSET [WORKERS]: the freq config of a dlnest run (WORKERS: the
# template's setting when not given).
freq_file() {
  local file=$work/freq_$1_$2_${3:-template}.json
  {
    printf '{"epochs": %d, "train_subset": %d, "test_subset": %d, "batch_size": %d,' \
      "$1" "$2" "$TEST_SUBSET" "$BATCH_SIZE"
    [[ -n ${3:-} ]] && printf ' "workers": %d,' "$3"
    printf ' "data_root": "%s", "life_cycle_name": "TimedLifeCycle"}\n' "$DATA_ROOT"
  } >"$file"
  echo "$file"
}

# record VARIANT REP SUBSET: prefixes the JSON lines on stdin and appends them to the results.
record() { sed "s/^/$1\t$2\t$(steps "$3")\t/" >>"$results"; }

# epoch_lines FILE: the epoch records of a metrics.jsonl as {"epoch", "seconds", "mean_loss"}
# lines (the epoch's wall time and the mean of its logged "loss").
epoch_lines() {
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("kind") == "epoch":
        out = {"epoch": r["epoch"], "seconds": r["values"]["seconds"]}
        if "loss" in r["values"]:
            out["mean_loss"] = r["values"]["loss"]
        print(json.dumps(out))' "$1"
}

# run_dlnest REP VARIANT [WORKERS]: one DLNest run; records the epochs of its metrics.jsonl and
# the stage times TimedLifeCycle printed.
run_dlnest() {
  local name=$2_rep$1 freq
  freq=$(freq_file "$EPOCHS" "$TRAIN_SUBSET" "${3:-}")
  "$BUILD/bin/dlnest" run -c "$project/root_config.json" -f "$freq" --sd -d "$name" \
    --foreground "${gpu_flags[@]}" >"$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
  epoch_lines "$project/Saves/$name/metrics.jsonl" | record "$2" "$1" "$TRAIN_SUBSET"
  sed -n "s/^\[training_bench\] //p" "$work/$name.log" | record "$2_stage" "$1" "$TRAIN_SUBSET"
}

# run_cpp REP ALLOCATOR
run_cpp() {
  "$BUILD/bin/handwritten_mnist" --data-root "$DATA_ROOT" --train-subset "$TRAIN_SUBSET" \
    --batch-size "$BATCH_SIZE" --epochs "$EPOCHS" --threads "$THREADS" --allocator "$2" \
    --device "$DEVICE" |
    record "cpp_$2" "$1" "$TRAIN_SUBSET"
}

# run_python REP VARIANT SUBSET [ENV...]
run_python() {
  local python=$PYTHON script=bench/python_mnist.py
  [[ $2 == lightning ]] && python=$LIGHTNING_PYTHON script=bench/lightning_mnist.py
  env "${@:4}" "$python" "$script" --data-root "$DATA_ROOT" --train-subset "$3" \
    --batch-size "$BATCH_SIZE" --epochs "$EPOCHS" --threads "$THREADS" --device "$DEVICE" |
    grep '^{"epoch"' | record "$2" "$1" "$3"  # Lightning prints more than its epochs
}

step() { echo "== $(date +%T) $* (load average $(cut -d' ' -f1 /proc/loadavg))"; }

echo "== building the project's plugin (a one-batch dlnest run, not timed)"
"$BUILD/bin/dlnest" run -c "$project/root_config.json" -f "$(freq_file 1 "$BATCH_SIZE")" \
  --sd -d warmup --foreground "${gpu_flags[@]}" >"$work/warmup.log" 2>&1 || { cat "$work/warmup.log"; exit 1; }

# run_variant REP VARIANT
run_variant() {
  case $2 in
    dlnest) run_dlnest "$1" dlnest ;;
    dlnest_w0) run_dlnest "$1" dlnest_w0 0 ;;
    dlnest_w1) run_dlnest "$1" dlnest_w1 1 ;;
    cpp_tuned) run_cpp "$1" tuned ;;
    cpp_default) run_cpp "$1" default ;;
    python) run_python "$1" python "$TRAIN_SUBSET" ;;
    python_tuned) run_python "$1" python_tuned "$TRAIN_SUBSET" "${TUNED_MALLOC[@]}" ;;
    lightning) run_python "$1" lightning "$TRAIN_SUBSET" ;;
    *) echo "training_bench: unknown variant '$2'"; exit 1 ;;
  esac
}

for rep in $(seq 1 "$REPS"); do
  for variant in $VARIANTS; do
    step "repetition $rep/$REPS: $variant" && run_variant "$rep" "$variant"
  done
done
if ((ALLOC_CHECK)); then
  for rep in 1 2; do
    step "allocator check $rep/2: python on $ALLOC_SUBSET images" &&
      run_python "$rep" python_small "$ALLOC_SUBSET"
    step "allocator check $rep/2: python_tuned on $ALLOC_SUBSET images" &&
      run_python "$rep" python_tuned_small "$ALLOC_SUBSET" "${TUNED_MALLOC[@]}"
  done
fi

[[ -n ${RESULTS:-} ]] && cp "$results" "$RESULTS"
echo
echo "device $DEVICE; $cpus CPUs, load average now $(cut -d' ' -f1-3 /proc/loadavg); intra-op threads $THREADS" \
  "(libtorch's default here: $default_threads)"
echo "$TRAIN_SUBSET images in batches of $BATCH_SIZE, $EPOCHS epochs per run (the first not" \
  "counted), $REPS repetitions"
"$PYTHON" bench/training_bench_report.py "$results"
