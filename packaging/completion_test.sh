#!/usr/bin/env bash
# The bash completion of dlnest against the dlnest binary: subcommands, nested subcommands, flags
# (from the binary's --help), save packages, and task ids from a server started here.
#   completion_test.sh BUILD_DIR
set -euo pipefail
dlnest=$(cd "$1" && pwd)/bin/dlnest
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null && wait "$server_pid" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=dlnest.bash-completion
source "$here/dlnest.bash-completion"
compopt() { :; }
failed=0
# expect "WORDS..." "EXPECTED COMPLETIONS": completes the last word of WORDS.
expect() {
  read -r -a COMP_WORDS <<< "$1"
  [[ $1 == *" " ]] && COMP_WORDS+=("")
  COMP_WORDS[0]=$dlnest
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _dlnest
  if [[ " ${COMPREPLY[*]} " != *" $2 "* ]]; then
    echo "completion_test: '$1' gave '${COMPREPLY[*]}', which lacks '$2'"
    failed=1
  fi
}
expect "dlnest r" "run"
expect "dlnest " "continue"
expect "dlnest package s" "show"
expect "dlnest run --fo" "--foreground"
expect "dlnest run -c x --d" "--ddp"
expect "dlnest tasks --" "--json"

mkdir -p "$work/Saves/2026-01-01_00-00-00_000"
(cd "$work" && expect "dlnest continue -r " "Saves/2026-01-01_00-00-00_000")

state=$work/state
"$dlnest" --state-dir "$state" server --port 0 > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$work/server.log" | head -n 1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/server.log"; echo "completion_test: no server"; exit 1; }
cp -r "$(dirname "$dlnest")/../share/dlnest/templates/empty" "$work/project"
package=$("$dlnest" package create -c "$work/project/root_config.json" | awk '{ print $NF; exit }')
id=$("$dlnest" --state-dir "$state" --server "127.0.0.1:$port" analyze -r "$package" -c -2 --cpu 2>&1 |
  grep -o '[AT]_[0-9._]*' | head -n 1 || true)
if [ -n "$id" ]; then
  expect "dlnest --state-dir $state --server 127.0.0.1:$port del " "$id"
else
  echo "completion_test: no task to complete (the server refused the analysis)"
  failed=1
fi
exit $failed
