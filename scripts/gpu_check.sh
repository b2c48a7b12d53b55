#!/usr/bin/env bash
# gpu_check.sh: every check that needs an NVIDIA GPU, as one command for a GPU machine that has
# PyTorch 2.x with CUDA preinstalled and no package registry (docs/devices.md, "Checking on a GPU
# machine"). It never waits for a GPU: without one it fails within seconds.
#
#   scripts/gpu_check.sh --prepare   on a Debian machine with apt: puts the Debian headers and
#                                    libraries that the GPU machine lacks into build-gpudeps/
#   scripts/gpu_check.sh             on the GPU machine (the device tool: carry build-gpudeps)
#
# Steps, each timed and reported (a failed step fails the check; later steps still run):
#   preflight   nvidia-smi lists a GPU and python3's torch sees it (no GPU: exit 2 at once)
#   build       DLNest against python3's torch with CUDA (scripts/build_torch2.sh) in build-gpu/
#   cuda_tests  every *_CUDA test of every test binary; one that skips counts as failed here
#   nvml        the server's NVML readings (`dlnest devices` against a fresh server)
#   placement   the server places a GPU task by free memory: one asking 2000 MB runs on GPU 0,
#               one asking more than any GPU has stays pending
#   nccl        a one-rank DDP run on GPU 0 (NCCL, NCCL_DEBUG=INFO)
#   bench       bench/training_bench.sh on GPU 0: DLNest, the hand-written C++ loop and the
#               Python loop of python3's torch
# The report goes to $REPORT_DIR/gpu_check.md (default: $OUT when set, else build-gpu/report),
# the whole output to gpu_check.log beside it. Exit: 0 all passed, 1 a step failed, 2 no GPU.
#
# Settings (environment): PYTHON=python3, BUILD=build-gpu, DEPS=build-gpudeps, BUDGET_S=570
# (steps that would start with less time left than they need are skipped and reported so),
# PORT=19999, STEPS (a subset of the steps, in order), SERVER_FLAGS (more `dlnest server` flags:
# "--simulated-gpus sim:24000" tries the server steps on a machine without a GPU).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
BUILD=${BUILD:-build-gpu}
DEPS=$ROOT/${DEPS:-build-gpudeps}
BUDGET_S=${BUDGET_S:-570}
REPORT_DIR=${REPORT_DIR:-${OUT:-$BUILD/report}}
DEBS=(libcpp-httplib-dev libcpp-httplib0.11 libsqlite3-dev libssl-dev libssl3 libbrotli-dev
  libbrotli1 libedit-dev libedit2 libbsd-dev libbsd0 libmd-dev libmd0)
MULTIARCH=x86_64-linux-gnu

prepare() {
  rm -rf "$DEPS" && mkdir -p "$DEPS/debs" "$DEPS/root"
  (cd "$DEPS/debs" && apt-get download "${DEBS[@]}") || exit 1
  for deb in "$DEPS"/debs/*.deb; do dpkg -x "$deb" "$DEPS/root"; done
  rm -rf "$DEPS/debs" "$DEPS/root/usr/share"
  find "$DEPS/root" -name '*.a' -delete
  echo "gpu_check: $(du -sh "$DEPS" | cut -f1) in $DEPS; carry it to the GPU machine"
}

if [[ ${1:-} == --prepare ]]; then prepare; exit 0; fi

mkdir -p "$REPORT_DIR"
REPORT=$REPORT_DIR/gpu_check.md
LOG=$REPORT_DIR/gpu_check.log
exec > >(tee -a "$LOG") 2>&1
START=$SECONDS
FAILED=0
echo "# GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)" >"$REPORT"
echo >>"$REPORT"
echo "| step | result | seconds | details |" >>"$REPORT"
echo "|---|---|---|---|" >>"$REPORT"

# report STEP RESULT SECONDS DETAILS
report() {
  echo "| $1 | $2 | $3 | ${4//|/\\|} |" >>"$REPORT"
  echo "== gpu_check: $1: $2 ($3 s) $4"
}

# step NAME NEEDS_S TIMEOUT_S FUNCTION: runs FUNCTION (which sets DETAILS) under a timeout, unless
# less than NEEDS_S seconds of the budget are left.
step() {
  local name=$1 needs=$2 limit=$3 fn=$4 begin=$SECONDS left=$((BUDGET_S - SECONDS + START))
  if ((left < needs)); then
    report "$name" skipped 0 "out of time: ${left} s left, it needs ${needs} s"
    FAILED=1
    return
  fi
  ((limit > left)) && limit=$left
  echo "== gpu_check: $name (at most $limit s)"
  DETAILS_FILE=$(mktemp)
  if timeout -k 5 "$limit" bash -c "$(declare -f); $fn" >"$DETAILS_FILE.out" 2>&1; then
    report "$name" passed $((SECONDS - begin)) "$(tail -n 1 "$DETAILS_FILE.out")"
  else
    local rc=$?
    ((rc == 124)) && echo "timed out after $limit s" >>"$DETAILS_FILE.out"
    report "$name" FAILED $((SECONDS - begin)) "$(tail -n 1 "$DETAILS_FILE.out")"
    FAILED=1
  fi
  cat "$DETAILS_FILE.out"
  rm -f "$DETAILS_FILE" "$DETAILS_FILE.out"
}
export ROOT PYTHON BUILD DEPS MULTIARCH REPORT_DIR

preflight() {
  command -v nvidia-smi >/dev/null || { echo "no GPU: nvidia-smi is not installed"; return 1; }
  timeout 20 nvidia-smi -L | grep -q '^GPU 0' || { echo "no GPU: nvidia-smi lists none"; return 1; }
  timeout 60 "$PYTHON" -c 'import torch, sys
if not torch.cuda.is_available(): sys.exit("no GPU: torch " + torch.__version__ + " sees none")
print("torch", torch.__version__, "CUDA", torch.version.cuda, "on", torch.cuda.get_device_name(0))'
}

# The CMake arguments that point at the carried Debian headers (libraries the machine has are
# taken from it; the others from the carried folder, through LD_LIBRARY_PATH).
deps_cmake_args() {
  local usr=$DEPS/root/usr lib=$DEPS/root/usr/lib/$MULTIARCH pc=$DEPS/pkgconfig sqlite
  mkdir -p "$pc"
  for f in "$lib"/pkgconfig/*.pc; do sed "s|^prefix=/usr|prefix=$usr|" "$f" >"$pc/$(basename "$f")"; done
  sqlite=$(ldconfig -p | awk '/libsqlite3\.so\.0 / {print $NF; exit}')
  echo "-DSQLite3_INCLUDE_DIR=$usr/include -DSQLite3_LIBRARY=${sqlite:-$lib/libsqlite3.so.0}" \
    "-DOPENSSL_ROOT_DIR=$usr -DOPENSSL_INCLUDE_DIR=$usr/include" \
    "-DOPENSSL_SSL_LIBRARY=$lib/libssl.so -DOPENSSL_CRYPTO_LIBRARY=$lib/libcrypto.so"
}

# The carried libraries that this machine lacks, linked into one folder for LD_LIBRARY_PATH (the
# machine's own stay in use where it has them).
runtime_libs() {
  local dir=$DEPS/runtime lib name
  rm -rf "$dir" && mkdir -p "$dir"
  for lib in "$DEPS"/root/usr/lib/$MULTIARCH/*.so.*[0-9]; do
    name=$(basename "$lib")
    [[ $name =~ \.so\.[0-9]+$ ]] || continue
    ldconfig -p | grep -q "^[[:space:]]*$name " || ln -sf "$lib" "$dir/$name"
  done
  echo "$dir"
}

build() {
  [[ -d $DEPS/root ]] || { echo "no $DEPS: run scripts/gpu_check.sh --prepare here first"; return 1; }
  local args
  args=$(deps_cmake_args) || return 1
  PKG_CONFIG_PATH=$DEPS/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} \
    CMAKE_ARGS=$args INCLUDE_DIRS="$DEPS/root/usr/include/$MULTIARCH" SKIP_DEPS=1 \
    TORCH_PYTHON=$(command -v "$PYTHON") BUILD=$BUILD DLNEST_BUILD_TYPE=Release \
    scripts/build_torch2.sh >"$REPORT_DIR/build.log" 2>&1 || { tail -n 30 "$REPORT_DIR/build.log"; return 1; }
  echo "built $(ls "$BUILD"/bin | wc -l) programs in $BUILD/bin"
}

# Every test binary that has tests named *_CUDA runs them; a skip or a failure fails the step.
cuda_tests() {
  local bin total=0 bad=0 names out
  for bin in "$BUILD"/bin/*_test; do
    names=$("$bin" --gtest_list_tests 2>/dev/null | grep -c '_CUDA') || continue
    out=$("$bin" --gtest_filter='*_CUDA' 2>&1)
    echo "$out"
    total=$((total + names))
    grep -q '^\[  PASSED  \] '"$names"' test' <<<"$out" || { bad=$((bad + 1)); echo "FAILED: $bin"; }
  done
  echo "$total *_CUDA tests, $bad binaries with a failed or skipped one"
  ((total > 0 && bad == 0))
}

WORK=$ROOT/$BUILD/gpu_check_work
PORT=${PORT:-19999}
export WORK PORT SERVER_FLAGS

# A Fashion-MNIST-shaped data set of random images (the real one is not on that machine), and a
# copy of the MNIST template that trains on it for 2 epochs.
make_project() {
  rm -rf "$WORK" && mkdir -p "$WORK/data" || return 1
  "$PYTHON" - "$WORK/data" <<'PY' || return 1
import gzip, os, struct, sys
for name, n in (("train", 6400), ("t10k", 640)):
    with gzip.open(f"{sys.argv[1]}/{name}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">4I", 2051, n, 28, 28) + os.urandom(n * 28 * 28))
    with gzip.open(f"{sys.argv[1]}/{name}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">2I", 2049, n) + bytes(b % 10 for b in os.urandom(n)))
PY
  cp -r templates/mnist "$WORK/mnist" && rm -rf "$WORK/mnist/.dlnest" "$WORK/mnist/Saves"
  printf '{"epochs": 2, "train_subset": 6400, "test_subset": 64, "data_root": "%s"}\n' \
    "$WORK/data" >"$WORK/freq.json"
}

dlnest() { "$ROOT/$BUILD/bin/dlnest" --server "127.0.0.1:$PORT" --state-dir "$WORK/state" "$@"; }

# with_server FN: runs FN against a fresh server on $PORT, stopped afterwards.
with_server() {
  rm -rf "$WORK/state"
  # shellcheck disable=SC2086 # SERVER_FLAGS is a word list
  "$ROOT/$BUILD/bin/dlnest" server --port "$PORT" --state-dir "$WORK/state" --delay 1 \
    ${SERVER_FLAGS:-} >"$WORK/server.log" 2>&1 &
  local pid=$! i rc
  for i in $(seq 1 60); do dlnest devices >/dev/null 2>&1 && break; sleep 0.5; done
  "$1"
  rc=$?
  kill "$pid" 2>/dev/null
  wait "$pid"
  return $rc
}

# json_query PYTHON_EXPRESSION: evaluates it over the JSON on stdin (as `j`) and prints it.
json_query() { "$PYTHON" -c "import json, sys; j = json.load(sys.stdin); print($1)"; }

nvml_readings() {
  dlnest devices || return 1
  dlnest devices --json | json_query "'; '.join(f\"GPU {d['ID']} {d.get('name')}: \
{d['free_memory']} of {d['total_memory']} MB free, {d.get('gpu_util')}% busy\" \
for d in j if d['type'] == 'GPU' and not d['is_break'] and d['total_memory'] > 0) or sys.exit('no GPU')"
}

# The status and devices of the task described as $1, from `dlnest tasks --all --json`.
task_state() {
  dlnest tasks --all --json |
    json_query "' '.join(f\"{t['status']} {t['devices']}\" for t in j if t['description'] == '$1')"
}

placement() {
  dlnest run -c "$WORK/mnist/root_config.json" -f "$WORK/freq.json" -m 2000 -d fits || return 1
  dlnest run -c "$WORK/mnist/root_config.json" -f "$WORK/freq.json" -m 100000000 -d too_big ||
    return 1
  local fits="" seen_running="" i
  for i in $(seq 1 150); do
    fits=$(task_state fits)
    [[ $fits == Running* ]] && seen_running=$(dlnest devices --json | json_query \
      "[f\"{d['free_memory']} MB free with {d['num_tasks']} task\" for d in j if d['ID'] == 0][0]")
    [[ $fits == Finished* || $fits == Failed* ]] && break
    sleep 1
  done
  dlnest tasks --all
  local too_big
  too_big=$(task_state too_big)
  echo "task asking 2000 MB: $fits (GPU 0 while it ran: ${seen_running:-not seen}); " \
    "task asking 100000000 MB: $too_big"
  [[ $fits == "Finished [0]" && $too_big == Pending* ]]
}

nccl_run() {
  local out rc
  out=$(NCCL_DEBUG=INFO "$ROOT/$BUILD/bin/dlnest" run -c "$WORK/mnist/root_config.json" \
    -f "$WORK/freq.json" --ns --foreground --gpu 0 --ddp 2>&1)
  rc=$?
  echo "$out" | tail -n 20
  echo "exit $rc, $(grep -c 'NCCL INFO' <<<"$out") NCCL INFO lines" \
    "($(grep -o 'NCCL version [0-9.]*' <<<"$out" | head -n 1))"
  ((rc == 0)) && grep -q 'NCCL INFO' <<<"$out"
}

bench() {
  DEVICE=cuda PYTHON=$(command -v "$PYTHON") BUILD=$BUILD DATA_ROOT=$WORK/data REPS=2 EPOCHS=3 \
    TRAIN_SUBSET=6400 VARIANTS="dlnest cpp_tuned python" ALLOC_CHECK=0 \
    RESULTS=$WORK/bench.tsv bench/training_bench.sh >"$WORK/bench.log" 2>&1
  local rc=$?
  cat "$WORK/bench.log"
  echo "see the table above ($(grep -c . "$WORK/bench.tsv" 2>/dev/null) epochs recorded)"
  return $rc
}

# name, seconds it needs at least, its time limit, the command
STEP_TABLE="preflight 10 90 preflight
build 150 330 build
project 10 60 make_project
cuda_tests 20 120 cuda_tests
nvml 10 40 with_server_nvml_readings
placement 40 180 with_server_placement
nccl 20 90 nccl_run
bench 60 200 bench"
for name in ${STEPS:-preflight build project cuda_tests nvml placement nccl bench}; do
  read -r _ needs limit fn < <(grep "^$name " <<<"$STEP_TABLE") || { echo "no step $name"; exit 1; }
  fn=${fn/with_server_/with_server }
  step "$name" "$needs" "$limit" "$fn"
  if [[ $name == preflight ]] && ((FAILED)); then
    echo "gpu_check: no usable GPU here, nothing else checked (see $REPORT)"
    exit 2
  fi
  if [[ $name == preflight && -d $DEPS/root ]]; then
    export LD_LIBRARY_PATH=$(runtime_libs)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    echo "gpu_check: carried libraries this machine lacks: $(ls "$DEPS/runtime" | tr '\n' ' ')"
  fi
done
[[ -f $WORK/bench.log ]] && { echo; echo '```'; sed -n '/^device /,$p' "$WORK/bench.log"; echo '```'; } >>"$REPORT"
echo >>"$REPORT"
echo "total $((SECONDS - START)) s; $( ((FAILED)) && echo 'FAILED' || echo 'all passed')" >>"$REPORT"
cat "$REPORT"
exit "$FAILED"
