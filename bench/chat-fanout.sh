#!/usr/bin/env bash
# Chat fan-out: one speaker, MEMBERS listeners, deliveries per second received by
# all of them (lock-step and pipelined) — through `netkit chat serve` (UDP, flood control off) and through
# redis-server PUBLISH to as many SUBSCRIBErs, measured by the same client code
# (`netkit bench chat-fanout`). Then, at the default flood limit (5 msg/s, burst
# 10), a paced speaker must reach every member with every message.
#
# What each side does. Server: netkit reads SAYs with recvmmsg and sends each
# batch's MSGs with one sendmmsg, a run of MSGs to one member as one UDP GSO
# message (still one datagram per message on the wire); redis-server writes
# each subscriber's pending messages with one write(2). Client (the same for
# both): one speaker thread, one receiver thread polling all listeners; a
# Redis subscriber reads its TCP stream in bulk and counts the messages in it,
# a UDP listener asks for UDP GRO and reads a batch of datagrams per recvmsg,
# counting each datagram in it. The "no GRO" row reads one datagram per call.
#
#   bench/chat-fanout.sh [MEMBERS] [MESSAGES] [PACED_MESSAGES]
#   bench/chat-fanout.sh 100 20000 50      # the real run (about a minute)
#   bench/chat-fanout.sh 5 200 5           # a quick check that it works
#
# Needs redis-server (Debian package redis-server). Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
members=${1:-100}
messages=${2:-20000}
paced=${3:-50}

command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install redis-server)" >&2; exit 2; }
source bench/chat-lib.sh

field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; }

start_redis --client-output-buffer-limit 'pubsub 0 0 0'

start_chat --rate 0; chat=$addr
echo "fan-out: 1 speaker, $members members, $messages messages"
# window 1: each message reaches every member before the next is sent (lock-step);
# window 32: the speaker runs up to 32 messages ahead of the slowest member, which
# lets Redis write many messages to a subscriber with one write(2).
for window in 1 32; do
  netkit_line=$("$netkit" bench chat-fanout --udp "$chat" --members "$members" --messages "$messages" --window "$window")
  redis_line=$("$netkit" bench chat-fanout --redis "127.0.0.1:$redis_port" --members "$members" --messages "$messages" --window "$window")
  echo " window $window"
  echo "  netkit chat (UDP): $netkit_line"
  echo "  redis pub/sub:     $redis_line"
  n=$(field deliveries_per_sec <<<"$netkit_line")
  r=$(field deliveries_per_sec <<<"$redis_line")
  python3 -c "import sys; n,r=float(sys.argv[1]),float(sys.argv[2]); print(f'  window {sys.argv[3]}: netkit {n:,.0f}/s vs redis {r:,.0f}/s: ratio {n/r:.2f}x (target >= 1.0x)')" "$n" "$r" "$window"
  plain_line=$("$netkit" bench chat-fanout --udp "$chat" --members "$members" --messages "$messages" --window "$window" --no-gro)
  echo "  netkit, no GRO:    $plain_line"
done

start_chat; limited=$addr
echo "default flood limit (5/s, burst 10): $paced messages paced at 4.5/s"
paced_line=$("$netkit" bench chat-fanout --udp "$limited" --members "$members" --messages "$paced" --pace 4.5)
echo "  $paced_line"
missing=$(field members_missing_messages <<<"$paced_line")
if [ "$missing" = 0 ]; then echo "  every member got every message"; else echo "  $missing members missed messages"; exit 1; fi
