#!/usr/bin/env bash
# netkit files get/put against the loopback ceiling: the same file moved
# file → TCP → file by a raw socat pipe (large buffers, no protocol), then by
# `netkit files get` and `netkit files put`, in one run. Prints MB/s and the
# ratio to the ceiling (targets: get ≥ 0.9×, put ≥ 0.8×). Every copy is
# compared byte for byte afterwards.
#
#   bench/files-vs-socat.sh                 # 1 GiB, default model
#   SIZE_MB=64 MODEL=thread bench/files-vs-socat.sh
#   NETKIT=target/release/netkit bench/files-vs-socat.sh   # skip the build
#
# put includes what makes an upload durable: SHA-256 on both ends and the
# server's fsync + rename before it answers. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MB=${SIZE_MB:-1024}
MODEL=${MODEL:-epoll}
PORT=${PORT:-47931}
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

# 1. The ceiling: socat, file → TCP → file, 1 MiB buffers.
dst="$work/client/socat.bin"
socat -u -b 1048576 "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr" "OPEN:$dst,creat,trunc" &
receiver=$!
t0=$(now)
socat -u -b 1048576 "OPEN:$src,rdonly" "TCP:127.0.0.1:$PORT,retry=100,interval=0.05"
wait "$receiver"
t1=$(now)
socat_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
cmp "$src" "$dst"
rm -f "$dst"

# 2. netkit files get.
start_server
t0=$(now)
"$NETKIT" files get "$addr" src.bin "$work/client/got.bin"
t1=$(now)
get_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
cmp "$src" "$work/client/got.bin"
rm -f "$work/client/got.bin"
stop_server

# 3. netkit files put.
start_server --upload --overwrite
t0=$(now)
"$NETKIT" files put "$addr" "$work/client/up.bin" up.bin
t1=$(now)
put_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
cmp "$src" "$work/served/up.bin"
stop_server

ceiling=$(mbps "$socat_s")
get=$(mbps "$get_s")
put=$(mbps "$put_s")
ratio() { awk -v x="$1" -v c="$ceiling" 'BEGIN { printf "%.2f", x / c }'; }
printf '%-28s %10s %8s\n' "transfer ($SIZE_MB MiB, $MODEL)" "MB/s" "ratio"
printf '%-28s %10s %8s\n' "socat file->tcp->file" "$ceiling" "1.00"
printf '%-28s %10s %8s\n' "netkit files get" "$get" "$(ratio "$get")"
printf '%-28s %10s %8s\n' "netkit files put" "$put" "$(ratio "$put")"
