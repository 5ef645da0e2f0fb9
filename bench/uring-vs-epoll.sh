#!/usr/bin/env bash
# Why io_uring: system calls and CPU per request of `netkit http serve` under
# --model epoll and --model uring, side by side. For each model and case, the
# server serves exactly N requests from `netkit bench load` twice: once with
# `strace -c -f` attached (system calls per request; strace slows the server,
# so its requests/s is not reported) and once with `perf stat -e task-clock`
# attached (CPU time per request, all the server's threads, io_uring's kernel
# workers excepted: they are not the process's threads).
#
#   bash bench/uring-vs-epoll.sh              # N=100000 requests per run
#   N=20000 bash bench/uring-vs-epoll.sh      # a quick check
#
# Environment: N (requests per run, 100000), CONNS (50), WORKERS (2), MODELS
# ("epoll uring"), CASES ("small.bin medium.bin small.bin+close"; +close opens
# a new connection per request), NETKIT (a binary instead of building this
# tree's).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
CONNS=${CONNS:-50}
WORKERS=${WORKERS:-2}
MODELS=${MODELS:-"epoll uring"}
CASES=${CASES:-"small.bin medium.bin small.bin+close"}
command -v strace >/dev/null || { echo "needs strace" >&2; exit 1; }
if [ -z "${NETKIT:-}" ]; then
  cargo build --release -q -p netkit
  NETKIT=target/release/netkit
fi
work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www"
head -c 100 /dev/urandom >"$work/www/small.bin"
head -c 65536 /dev/urandom >"$work/www/medium.bin"

perf_ok=0
perf stat -e task-clock true >/dev/null 2>&1 && perf_ok=1

echo "# netkit http serve, $N requests per run, $CONNS connections, --workers $WORKERS; $(uname -sr)"
printf '%-7s %-22s %14s %12s %14s  %s\n' model case "syscalls/req" "enters/req" "CPU µs/req" "top calls (per request)"
for model in $MODELS; do
  "$NETKIT" http serve "$work/www" --bind 127.0.0.1 --port 0 --quiet --workers "$WORKERS" \
    --model "$model" >"$work/out" 2>"$work/err" &
  server=$!
  for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.05; done
  url=$(grep -o 'http://[^ ]*' "$work/out")
  for case in $CASES; do
    load=("$NETKIT" bench load -c "$CONNS" -n "$N" "$url/${case%+close}")
    # small.bin+close: a new connection per request (Connection: close).
    [ "$case" != "${case%+close}" ] && load+=(--close)
    "${load[@]}" >/dev/null # warm up: page cache, buffers, connections
    strace -c -f -p "$server" -o "$work/strace" 2>/dev/null &
    tracer=$!
    sleep 0.5 # strace attaches to every thread before the load starts
    "${load[@]}" >/dev/null
    kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
    read -r total enters top <<<"$(awk -v n="$N" '
      /^[ ]*[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ {
        calls = $4; name = $NF
        if (name == "total") { total = calls; next }
        if (name == "io_uring_enter") enters = calls
        line = line sprintf("%s %.2f, ", name, calls / n)
        if (++k == 3) top = line
      }
      END { printf "%.2f %.2f %s\n", total / n, enters / n, (top ? top : line) }' "$work/strace")"
    cpu="-"
    if [ "$perf_ok" = 1 ]; then
      perf stat -e task-clock -p "$server" -o "$work/perf" -x, &
      stat=$!
      sleep 0.5
      "${load[@]}" >/dev/null
      kill -INT "$stat"; wait "$stat" 2>/dev/null || true
      cpu=$(awk -F, -v n="$N" '/task-clock/ { printf "%.2f", $1 * 1000 / n }' "$work/perf")
    fi
    printf '%-7s %-22s %14s %12s %14s  %s\n' "$model" "$case" "$total" "$enters" "$cpu" "${top%, }"
  done
  kill "$server"; wait "$server" 2>/dev/null || true
  server=""
done
