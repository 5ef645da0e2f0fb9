#!/usr/bin/env bash
# Memory while netkit sends a big folder as a ZIP: a folder of 5 GiB of
# sparse files (no disk used) plus a few small ones, downloaded with curl as
# `GET /big/?zip`, while netkit's resident set (VmRSS) is sampled every
# 50 ms. Prints the RSS idle (after one small request), the peak while
# zipping, and the RSS after; the archive's length is checked against what
# curl received. Not a timed test: a measurement for docs and reports.
#
#   bash bench/zip-rss.sh
#   GIB=8 MODEL=thread bash bench/zip-rss.sh
#
# Environment: GIB (5), PORT (18280), MODEL (netkit --model), NETKIT (a netkit
# binary instead of building this tree's release).
set -euo pipefail
cd "$(dirname "$0")/.."

GIB=${GIB:-5}
PORT=${PORT:-18280}
if [ -z "${NETKIT:-}" ]; then
  cargo build --release -q -p netkit
  NETKIT=target/release/netkit
fi
mkdir -p target
work=$(mktemp -d "$PWD/target/zip-rss.XXXXXX")
pid=""
cleanup() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www/big/small"
for i in $(seq "$GIB"); do truncate -s 1G "$work/www/big/part-$i.bin"; done
for i in $(seq 100); do echo "file $i" >"$work/www/big/small/$i.txt"; done
model=()
[ -n "${MODEL:-}" ] && model=(--model "$MODEL")
"$NETKIT" http serve "$work/www" --bind 127.0.0.1 --port "$PORT" --quiet "${model[@]}" \
  >"$work/netkit.out" 2>"$work/netkit.err" &
pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/big/small/1.txt" && break
  sleep 0.1
done
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
idle=$(rss)

url="http://127.0.0.1:$PORT/big/?zip"
want=$(curl -sSfI "$url" | tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
curl -sSf -o /dev/null -w '%{size_download} %{speed_download}\n' "$url" >"$work/curl.out" &
curl_pid=$!
peak=$idle
samples=0
while kill -0 "$curl_pid" 2>/dev/null; do
  r=$(rss)
  [ "$r" -gt "$peak" ] && peak=$r
  samples=$((samples + 1))
  sleep 0.05
done
wait "$curl_pid"
read -r got speed <"$work/curl.out"
after=$(rss)
[ "$got" = "$want" ] || { echo "received $got bytes of $want" >&2; exit 1; }
echo "zipped $GIB GiB (sparse) + 100 small files: $got bytes at $(awk -v s="$speed" 'BEGIN { printf "%.0f", s / 1048576 }') MiB/s"
echo "netkit VmRSS: idle ${idle} KiB, peak while zipping ${peak} KiB ($samples samples), after ${after} KiB"
echo "growth while zipping: $((peak - idle)) KiB"
