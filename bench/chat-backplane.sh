#!/usr/bin/env bash
# Chat across instances: one speaker, MEMBERS listeners spread over the
# instances, deliveries per second and SAY→MSG latency (p50, p99) for
#   1 instance, no backplane | 1 instance on Redis | 3 instances on one Redis
# with the same total members (`netkit chat backplane-bench`, flood control off),
# at speaker windows 1 (lock-step: latency) and 32 (pipelined: throughput).
#
#   bench/chat-backplane.sh [MEMBERS] [MESSAGES]
#   bench/chat-backplane.sh 99 5000      # the real run
#   bench/chat-backplane.sh 6 100        # a quick check that it works
#
# Needs redis-server (Debian package redis-server). Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
members=${1:-99}
messages=${2:-5000}

command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install redis-server)" >&2; exit 2; }
cargo build --release -q -p netkit
netkit=target/release/netkit
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts `netkit chat serve ARGS` and sets `addr` to its UDP address (from the
# ready line). Not called as $(…): a subshell would lose the pid, and the
# server would outlive the script.
start_chat() {
  local out="$work/chat-$RANDOM.out"
  "$netkit" chat serve --bind 127.0.0.1 --port 0 --rate 0 "$@" >"$out" 2>>"$work/chat.log" </dev/null &
  pids+=($!)
  for _ in $(seq 200); do
    if grep -q 'listening on udp://' "$out"; then
      addr=$(sed -n 's#^chat listening on udp://##p' "$out"); return
    fi
    sleep 0.05
  done
  echo "chat server did not start" >&2; exit 1
}

stop_chats() {
  for pid in "${pids[@]:1}"; do kill "$pid" 2>/dev/null || true; done
  pids=("${pids[0]}")
}

redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
backplane="redis://127.0.0.1:$redis_port"

for window in 1 32; do
  echo "chat across instances: 1 speaker, $members members, $messages messages, window $window"
  bench() { "$netkit" chat backplane-bench --members "$members" --messages "$messages" --window "$window" --udp "$@"; }
  start_chat; a=$addr
  echo "1 instance, no backplane:  $(bench "$a")"
  stop_chats
  start_chat --backplane "$backplane" --room "bench1w$window"; a=$addr
  echo "1 instance on Redis:       $(bench "$a")"
  stop_chats
  start_chat --backplane "$backplane" --room "bench3w$window"; a=$addr
  start_chat --backplane "$backplane" --room "bench3w$window"; b=$addr
  start_chat --backplane "$backplane" --room "bench3w$window"; c=$addr
  echo "3 instances on one Redis:  $(bench "$a,$b,$c")"
  stop_chats
done
