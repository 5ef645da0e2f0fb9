#!/usr/bin/env bash
# Memory for many idle keep-alive connections: opens N connections to a server,
# sends one line on each and reads its echo (so every connection went through
# the read path once), keeps them all open and idle, and prints the server's
# resident memory (VmRSS from /proc/PID/status) before and after.
#
# usage: bench/idle-connections.sh [N] [-- SERVER COMMAND...]
#   N defaults to 10000. The default server is
#   `$NETKIT echo serve --bind 127.0.0.1 --port 0` (NETKIT defaults to
#   target/release/netkit); a given command must print a ready line containing
#   `://IP:PORT` on stdout and speak echo.
#   MODEL=thread bench/idle-connections.sh 2000   runs another --model.
set -euo pipefail
cd "$(dirname "$0")/.."

n=10000
if [ $# -gt 0 ] && [ "$1" != "--" ]; then n=$1; shift; fi
[ "${1:-}" = "--" ] && shift
if [ $# -gt 0 ]; then
  server=("$@")
else
  netkit=${NETKIT:-target/release/netkit}
  [ -x "$netkit" ] || cargo build --release -q -p netkit
  server=("$netkit" echo serve --bind 127.0.0.1 --port 0 --model "${MODEL:-epoll}")
fi

# Every connection is a descriptor on each side: raise our soft limit (the
# server, started from here, inherits it and raises its own to the hard limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
limit=$(ulimit -n)
if [ "$limit" != unlimited ] && [ "$limit" -lt $((n + 100)) ]; then
  echo "ulimit -n is $limit: lowering N from $n to $((limit - 100))" >&2
  n=$((limit - 100))
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"${server[@]}" >"$work/out" 2>"$work/err" &
server_pid=$!
addr=""
for _ in $(seq 300); do
  addr=$(grep -o '://[0-9.]*:[0-9]*' "$work/out" | head -1 | cut -c4- || true)
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "no ready line from: ${server[*]}" >&2; exit 1; }

rss() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
before=$(rss)

# The client: a small Python program holding N sockets; it prints "held N"
# once all are open and echoed, then waits for its stdin to close.
coproc CLIENT { python3 -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
n, held, batch = int(sys.argv[2]), [], []
for i in range(n):
    s = socket.create_connection((host, int(port)), timeout=60)
    s.sendall(b"ping\n")
    batch.append(s)
    if len(batch) == 500 or i == n - 1:
        for b in batch:
            got = b""
            while len(got) < 5:
                chunk = b.recv(5 - len(got))
                if not chunk:
                    sys.exit("connection %d closed early" % len(held))
                got += chunk
        held += batch
        batch = []
print("held", len(held), flush=True)
sys.stdin.read()
' "$addr" "$n"; }
read -r -u "${CLIENT[0]}" line || { echo "client failed" >&2; exit 1; }
after=$(rss)
exec {CLIENT[1]}>&-
wait "$CLIENT_PID" 2>/dev/null || true

held=${line#held }
echo "server: ${server[*]}"
echo "idle connections: $held"
echo "server RSS before: $((before / 1024)) MiB (${before} KiB)"
echo "server RSS with $held idle: $((after / 1024)) MiB (${after} KiB)"
if [ "$held" -gt 0 ]; then
  echo "per connection: $(((after - before) * 1024 / held)) bytes"
fi
