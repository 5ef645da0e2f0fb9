#!/usr/bin/env bash
# Chat across instances: one speaker, MEMBERS listeners spread over the
# instances, deliveries per second and SAY→MSG latency (p50, p99) for
#   1 instance, no backplane | 1 instance on Redis | 3 instances on one Redis
# with the same total members (`netkit bench chat-backplane`, flood control off),
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
source bench/chat-lib.sh

stop_chats() {
  for pid in "${pids[@]:1}"; do kill "$pid" 2>/dev/null || true; done
  pids=("${pids[0]}")
}

start_redis
backplane="redis://127.0.0.1:$redis_port"

for window in 1 32; do
  echo "chat across instances: 1 speaker, $members members, $messages messages, window $window"
  bench() { "$netkit" bench chat-backplane --members "$members" --messages "$messages" --window "$window" --udp "$@"; }
  start_chat --rate 0; a=$addr
  echo "1 instance, no backplane:  $(bench "$a")"
  stop_chats
  start_chat --rate 0 --backplane "$backplane" --room "bench1w$window"; a=$addr
  echo "1 instance on Redis:       $(bench "$a")"
  stop_chats
  start_chat --rate 0 --backplane "$backplane" --room "bench3w$window"; a=$addr
  start_chat --rate 0 --backplane "$backplane" --room "bench3w$window"; b=$addr
  start_chat --rate 0 --backplane "$backplane" --room "bench3w$window"; c=$addr
  echo "3 instances on one Redis:  $(bench "$a,$b,$c")"
  stop_chats
done
