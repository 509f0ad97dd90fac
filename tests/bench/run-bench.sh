#!/usr/bin/env bash
# Runs ../shared/bench/run-peers.sh with Portcullis as an extra column, so our
# figures and the peers' come from the same run on the same machine.
#   tests/bench/run-bench.sh                 # all scenarios, all peers
#   PEERS=portcullis SCENARIOS=miss tests/bench/run-bench.sh
# Env: BUILD (default build), WORKERS (default 1), PEERS_SCRIPT (path to run-peers.sh),
#   CONNECT_LOAD: shared (default: run-peers' own CONNECT client), copy or discard
#   (tests/bench/connect_load.py, which also prints each proxy's CPU seconds per GiB
#   relayed; discard drops bodies in the kernel, so the client core is not the limit).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build}
bin=$build/portcullis
[[ -x $bin ]] || { echo "build first: make build" >&2; exit 1; }
peers_script=${PEERS_SCRIPT:-$root/../shared/bench/run-peers.sh}
[[ -x $peers_script ]] || { echo "no $peers_script" >&2; exit 1; }
workers=${WORKERS:-1}
origin_port=${ORIGIN_PORT:-18080}  # run-peers.sh's origin; its 50 ms backend is the next port
tmpl=$here/bench.toml.in

make_cmd() {  # $1 = cache on/off
  echo "sed -e 's#@PORT@#{port}#' -e 's#@DIR@#{dir}#' -e 's#@WORKERS@#$workers#' -e 's#@CACHE@#$1#' -e 's#@ORIGIN_PORT@#$origin_port#' -e 's#@SLOW_PORT@#$((origin_port + 1))#' $tmpl > {dir}/portcullis.toml && exec $bin run -c {dir}/portcullis.toml --allow-root"
}

export NEWPROXY_NAME=${NEWPROXY_NAME:-portcullis}
export NEWPROXY_CMD=${NEWPROXY_CMD:-$(make_cmd true)}
export NEWPROXY_COLLAPSE_CMD=${NEWPROXY_COLLAPSE_CMD:-$(make_cmd true)}
export NEWPROXY_VERSION_CMD="$bin --version"
export RUN_DIR=${RUN_DIR:-$here/run}
connect_load=${CONNECT_LOAD:-shared}
case $connect_load in
    shared) exec "$peers_script" ;;
    copy|discard) ;;
    *) echo "CONNECT_LOAD must be shared, copy or discard" >&2; exit 2 ;;
esac
export CONNECT_LOAD_MODE=$connect_load
export REAL_PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
export PYTHON=$here/python-shim
"$peers_script"
# The extra figure connect_load.py printed for each column, from run-peers' connect log.
awk '/^### connect / { peer = $3 }
     /^RESULT/ { for (i = 2; i <= NF; i++) if ($i ~ /^cpu_s_per_gib=/) { split($i, kv, "="); cpu[peer] = kv[2] } }
     END { for (p in cpu) printf "CONNECT (%s client) server CPU s per GiB  %s: %s\n", mode, p, cpu[p] }' \
    mode="$connect_load" "$RUN_DIR/results/connect.log" | sort
