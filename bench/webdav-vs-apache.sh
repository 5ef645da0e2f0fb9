#!/usr/bin/env bash
# WebDAV listing speed: PROPFIND Depth 1 (allprop: an empty body) of a folder
# of FILES files, against netkit `http serve --upload` and Apache httpd with
# mod_dav / mod_dav_fs on the same folder, in one run. Reports requests/s and
# the bytes of one reply (a 207 body) for each. The load is `netkit bench
# load` (closed loop, keep-alive) with CONNECTIONS connections for DURATION.
#
#   bash bench/webdav-vs-apache.sh                  # 10,000 files, 10 s each
#   FILES=1000 DURATION=3 bash bench/webdav-vs-apache.sh
#
# Environment: FILES (10000), DURATION (10s), CONNECTIONS (4), BASE_PORT
# (18280), MODEL (netkit --model), NETKIT (a netkit binary instead of this
# tree's release build), WORK (a directory; default a new one under target/).
set -euo pipefail
cd "$(dirname "$0")/.."

FILES=${FILES:-10000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-4}
BASE_PORT=${BASE_PORT:-18280}

if [ ! -x /usr/sbin/apache2 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq apache2 >&2
fi
if [ -z "${NETKIT:-}" ]; then
  cargo build --release -q -p netkit
  NETKIT=target/release/netkit
fi

mkdir -p target
work=${WORK:-$(mktemp -d "$PWD/target/webdav-bench.XXXXXX")}
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

root=$work/www
mkdir -p "$root/many"
(cd "$root/many" && seq -w 1 "$FILES" | sed 's/^/file-/; s/$/.txt/' | xargs -n 1000 touch)
for f in "$root"/many/file-0*1.txt; do echo "some bytes" >"$f"; done

nk_port=$BASE_PORT
ap_port=$((BASE_PORT + 1))
model=()
[ -n "${MODEL:-}" ] && model=(--model "$MODEL")
"$NETKIT" http serve "$root" --bind 127.0.0.1 --port "$nk_port" --quiet --upload "${model[@]}" \
  >"$work/netkit.out" 2>"$work/netkit.err" &
pids+=($!)

# Apache: a minimal configuration of its own (not the system's site), dav_fs
# on the folder, the event MPM, logs in $work.
mods=/usr/lib/apache2/modules
mkdir -p "$work/apache/run" "$work/apache/lock"
cat >"$work/apache/httpd.conf" <<CONF
ServerRoot "$work/apache"
PidFile "$work/apache/run/httpd.pid"
Listen 127.0.0.1:$ap_port
ServerName 127.0.0.1
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule dav_module $mods/mod_dav.so
LoadModule dav_fs_module $mods/mod_dav_fs.so
LoadModule mime_module $mods/mod_mime.so
TypesConfig /etc/mime.types
DAVLockDB "$work/apache/lock/DAVLock"
ErrorLog "$work/apache/error.log"
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot "$root"
<Directory "$root">
  Dav On
  Require all granted
</Directory>
CONF
# Debian's apache2 wants its environment variables; run the binary itself.
APACHE_RUN_DIR=$work/apache/run /usr/sbin/apache2 -f "$work/apache/httpd.conf" -DFOREGROUND \
  >"$work/apache.out" 2>&1 &
pids+=($!)

wait_up() {
  for _ in $(seq 200); do
    curl -sf -o /dev/null -X PROPFIND -H 'Depth: 0' "http://127.0.0.1:$1/many/" && return 0
    sleep 0.1
  done
  echo "server on port $1 did not come up" >&2
  return 1
}
wait_up "$nk_port"
wait_up "$ap_port"

printf '%-8s %12s %14s %10s\n' server "requests/s" "reply bytes" entries
for entry in "netkit $nk_port" "apache $ap_port"; do
  set -- $entry
  url="http://127.0.0.1:$2/many/"
  curl -sf -X PROPFIND -H 'Depth: 1' -o "$work/$1.xml" "$url"
  bytes=$(stat -c %s "$work/$1.xml")
  entries=$(grep -o '<[A-Za-z0-9]*:response' "$work/$1.xml" | wc -l)
  rps=$("$NETKIT" bench load -c "$CONNECTIONS" -d "$DURATION" -m PROPFIND -H 'Depth: 1' --json "$url" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); e=d["errors"]; n=sum(v for k,v in e.items() if k!="statuses"); print(round(d["requests_per_sec"], 1) if n==0 else "%.1f(%d errors)" % (d["requests_per_sec"], n))')
  printf '%-8s %12s %14s %10s\n' "$1" "$rps" "$bytes" "$entries"
done
