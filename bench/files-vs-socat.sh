#!/usr/bin/env bash
# netkit files get/put against the loopback ceiling: the same file moved
# file → TCP → file by a raw socat pipe (large buffers, no protocol), then by
# `netkit files get` and `netkit files put`, in one run. Prints MB/s and the
# ratio to the ceiling (targets: get ≥ 0.9×, put ≥ 0.8×). Every copy is
# compared byte for byte afterwards.
#
#   bench/files-vs-socat.sh                 # 1 GiB, default model, best of 3
#   SIZE_MB=64 MODEL=thread REPEAT=1 bench/files-vs-socat.sh
#   NETKIT=target/release/netkit bench/files-vs-socat.sh   # skip the build
#
# put includes what makes an upload durable: SHA-256 on both ends and the
# server's fsync + rename before it answers. So one more row, for
# information, times socat plus an fsync of its output (the durable ceiling);
# the ratios stay against the raw socat pipe. Each transfer is timed REPEAT
# times (best kept), each after a `sync` so no run pays for the one before's
# dirty pages. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MB=${SIZE_MB:-1024}
MODEL=${MODEL:-epoll}
PORT=${PORT:-47931}
REPEAT=${REPEAT:-3}
command -v socat >/dev/null || { echo "needs socat (apt-get install socat)" >&2; exit 1; }
if [ -z "${NETKIT:-}" ]; then
  cargo build --release -q -p netkit
  NETKIT=target/release/netkit
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/netkit-bench.XXXXXX")
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/served" "$work/client"
src="$work/served/src.bin"
head -c "$((SIZE_MB << 20))" /dev/urandom >"$src"
cp "$src" "$work/client/up.bin"
sync

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
# The smaller of two durations ("" counts as none yet).
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
mbps() { awk -v b="$((SIZE_MB << 20))" -v s="$1" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }

# Starts the files server with the given flags; sets $addr from its ready line.
start_server() {
  local fifo="$work/ready"
  rm -f "$fifo"
  mkfifo "$fifo"
  "$NETKIT" files serve "$work/served" --bind 127.0.0.1 --port 0 --model "$MODEL" "$@" \
    >"$fifo" 2>"$work/server.log" &
  server_pid=$!
  local line
  read -r line <"$fifo"
  addr=${line##*tcp://}
}

stop_server() {
  kill "$server_pid" && wait "$server_pid" || true
  server_pid=""
}

# 1. The ceiling: socat, file → TCP → file, 1 MiB buffers; then the same
#    with an fsync of the copy (GNU sync FILE), the durable ceiling.
dst="$work/client/socat.bin"
socat_once() {
  socat -u -b 1048576 "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr" "OPEN:$dst,creat,trunc" &
  local receiver=$!
  sync
  local t0 t1 t2
  t0=$(now)
  socat -u -b 1048576 "OPEN:$src,rdonly" "TCP:127.0.0.1:$PORT,retry=100,interval=0.05"
  wait "$receiver"
  t1=$(now)
  sync "$dst"
  t2=$(now)
  socat_s=$(best "$socat_s" "$(elapsed "$t0" "$t1")")
  durable_s=$(best "$durable_s" "$(elapsed "$t0" "$t2")")
  cmp "$src" "$dst"
  rm -f "$dst"
}
socat_s="" durable_s=""
for _ in $(seq "$REPEAT"); do socat_once; done

# 2. netkit files get.
start_server
get_s=""
for _ in $(seq "$REPEAT"); do
  sync
  t0=$(now)
  "$NETKIT" files get "$addr" src.bin "$work/client/got.bin"
  t1=$(now)
  get_s=$(best "$get_s" "$(elapsed "$t0" "$t1")")
  cmp "$src" "$work/client/got.bin"
  rm -f "$work/client/got.bin"
done
stop_server

# 3. netkit files put.
start_server --upload --overwrite
put_s=""
for _ in $(seq "$REPEAT"); do
  sync
  t0=$(now)
  "$NETKIT" files put "$addr" "$work/client/up.bin" up.bin
  t1=$(now)
  put_s=$(best "$put_s" "$(elapsed "$t0" "$t1")")
  cmp "$src" "$work/served/up.bin"
  rm -f "$work/served/up.bin"
done
stop_server

ceiling=$(mbps "$socat_s")
get=$(mbps "$get_s")
put=$(mbps "$put_s")
durable=$(mbps "$durable_s")
ratio() { awk -v x="$1" -v c="$ceiling" 'BEGIN { printf "%.2f", x / c }'; }
printf '%-32s %10s %8s\n' "transfer ($SIZE_MB MiB, $MODEL, best of $REPEAT)" "MB/s" "ratio"
printf '%-32s %10s %8s\n' "socat file->tcp->file" "$ceiling" "1.00"
printf '%-32s %10s %8s\n' "socat + fsync (durable ceiling)" "$durable" "$(ratio "$durable")"
printf '%-32s %10s %8s\n' "netkit files get" "$get" "$(ratio "$get")"
printf '%-32s %10s %8s\n' "netkit files put" "$put" "$(ratio "$put")"
