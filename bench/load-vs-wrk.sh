#!/usr/bin/env bash
# netkit bench load against wrk: the same server, the same connections, threads
# and duration, runs alternating (wrk, netkit, wrk, netkit, ...) so a noisy
# neighbour hurts both alike. Prints each run's requests/s, both means and the
# ratio netkit / wrk (the target is >= 0.9: the load generator is not the bottleneck).
#
#   bench/load-vs-wrk.sh                      # 100 connections, 2 threads, 3 rounds of 10 s
#   CONNS=50 DURATION=2 ROUNDS=1 bench/load-vs-wrk.sh
#   MODEL=async URL_PATH=/ bench/load-vs-wrk.sh
#
# Environment: CONNS, THREADS, DURATION (seconds), ROUNDS, MODEL (the server's
# --model), NETKIT (a prebuilt binary; default: cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-100}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
MODEL=${MODEL:-epoll}

if ! command -v wrk >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing wrk" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2
fi
if [ -z "${NETKIT:-}" ]; then
  cargo build --release -q -p netkit
  NETKIT=target/release/netkit
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/site"
printf 'Hello from netkit: a small file for load tests.\n' >"$work/site/hello.txt"
mkfifo "$work/ready"
"$NETKIT" http serve --quiet --model "$MODEL" --bind 127.0.0.1 --port 0 "$work/site" \
  >"$work/ready" 2>"$work/server.log" &
server_pid=$!
read -r -t 20 line <"$work/ready" || { echo "no ready line from the server" >&2; exit 1; }
url="${line##* listening on }/hello.txt"
echo "server: netkit http serve --model $MODEL at $url"
echo "load:   $CONNS connections, $THREADS threads, ${DURATION}s, $ROUNDS rounds"

wrk_total=0
netkit_total=0
for round in $(seq 1 "$ROUNDS"); do
  w=$(wrk -c "$CONNS" -t "$THREADS" -d "${DURATION}s" "$url" | awk '/^Requests\/sec:/ {print $2}')
  n=$("$NETKIT" bench load "$url" -c "$CONNS" -t "$THREADS" -d "${DURATION}s" --json |
    awk -F': ' '/"requests_per_sec"/ {gsub(/,/, "", $2); print $2}')
  printf 'round %d: wrk %12.1f req/s   netkit %12.1f req/s\n' "$round" "$w" "$n"
  wrk_total=$(awk -v a="$wrk_total" -v b="$w" 'BEGIN {print a + b}')
  netkit_total=$(awk -v a="$netkit_total" -v b="$n" 'BEGIN {print a + b}')
done
awk -v w="$wrk_total" -v n="$netkit_total" -v r="$ROUNDS" 'BEGIN {
  ratio = n / w
  printf "mean:    wrk %12.1f req/s   netkit %12.1f req/s\n", w / r, n / r
  printf "ratio netkit/wrk: %.3f (%s)\n", ratio, (ratio >= 0.9 ? "meets >= 0.9" : "below 0.9")
}'
