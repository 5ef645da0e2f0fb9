#!/usr/bin/env bash
# A folder as one ZIP from netkit against the same files one by one from
# lighttpd: a 1 GiB folder (FILES files of SIZE_MIB MiB, random bytes, in the
# page cache) downloaded with curl from `netkit http serve` as
# `GET /data/?zip` (stored ZIP, data by sendfile): from a fresh server, whose
# CRCs are computed from the data as it is sent, and again from the same
# server, whose CRC cache then has them; and the same files fetched by one
# curl from lighttpd (keep-alive, sendfile), in one run. Each run includes
# curl's start-up. Rounds alternate servers; best and median reported.
#
#   bash bench/zip-vs-lighttpd.sh                    # 64 × 16 MiB, 5 rounds
#   ROUNDS=1 FILES=8 bash bench/zip-vs-lighttpd.sh   # a quick check
#
# Environment: ROUNDS (5), FILES (64), SIZE_MIB (16), BASE_PORT (18180),
# MODEL (netkit --model; default netkit's), NETKIT (a netkit binary to
# measure instead of building this tree's release), WORK (a directory for the
# files; default a new one under target/, never /tmp: the files are real).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
FILES=${FILES:-64}
SIZE_MIB=${SIZE_MIB:-16}
BASE_PORT=${BASE_PORT:-18180}

if [ ! -x /usr/sbin/lighttpd ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq lighttpd >&2
fi
if [ -z "${NETKIT:-}" ]; then
  cargo build --release -q -p netkit
  NETKIT=target/release/netkit
fi

mkdir -p target
work=${WORK:-$(mktemp -d "$PWD/target/zip-bench.XXXXXX")}
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

root=$work/www
mkdir -p "$root/data"
for i in $(seq -w 1 "$FILES"); do
  head -c $((SIZE_MIB << 20)) /dev/urandom >"$root/data/file-$i.bin"
done
cat "$root"/data/* >/dev/null # into the page cache
total=$((FILES * SIZE_MIB << 20))

nk_port=$BASE_PORT
lt_port=$((BASE_PORT + 1))
model=()
[ -n "${MODEL:-}" ] && model=(--model "$MODEL")
netkit_pid=""
# A fresh server: its cache of CRCs is empty, so the archive's CRCs are
# computed while it is sent (the first download of a folder).
start_netkit() {
  if [ -n "$netkit_pid" ]; then kill "$netkit_pid"; wait "$netkit_pid" 2>/dev/null || true; fi
  "$NETKIT" http serve "$root" --bind 127.0.0.1 --port "$nk_port" --quiet "${model[@]}" \
    >"$work/netkit.out" 2>>"$work/netkit.err" &
  netkit_pid=$!
  pids+=($!)
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$nk_port/" && return 0
    sleep 0.1
  done
  return 1
}
start_netkit
cat >"$work/lighttpd.conf" <<CONF
server.document-root = "$root"
server.bind = "127.0.0.1"
server.port = $lt_port
server.errorlog = "$work/lighttpd.err"
server.max-keep-alive-requests = 1000000
mimetype.assign = (".bin" => "application/octet-stream")
CONF
/usr/sbin/lighttpd -D -f "$work/lighttpd.conf" >"$work/lighttpd.out" 2>&1 &
pids+=($!)
for port in "$nk_port" "$lt_port"; do
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/data/file-$(seq -w 1 "$FILES" | head -1).bin" && break
    sleep 0.1
  done
done

urls=()
for i in $(seq -w 1 "$FILES"); do urls+=("http://127.0.0.1:$lt_port/data/file-$i.bin"); done

# One run, timed the same way for both (curl's start-up included); each
# run_* sets result to "seconds bytes".
result=""
timed() {
  local start end
  start=$(date +%s%N)
  curl -sSf "$@"
  end=$(date +%s%N)
  elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
}
zip_len=$(curl -sSfI "http://127.0.0.1:$nk_port/data/?zip" | tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
# netkit-cold: a fresh server (CRCs computed from the data as it is sent);
# netkit: the same folder again (CRCs from the cache: pure sendfile).
run_netkit-cold() {
  start_netkit
  run_netkit
}
run_netkit() {
  timed -o /dev/null "http://127.0.0.1:$nk_port/data/?zip"
  result="$elapsed $zip_len"
}
run_lighttpd() {
  local args=()
  for u in "${urls[@]}"; do args+=(-o /dev/null "$u"); done
  timed "${args[@]}"
  result="$elapsed $total"
}

mib_s() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / 1048576 / t }'; }

declare -A times
for round in $(seq "$ROUNDS"); do
  order=(netkit-cold netkit lighttpd)
  [ $((round % 2)) -eq 0 ] && order=(lighttpd netkit-cold netkit)
  for s in "${order[@]}"; do
    "run_$s" # not in a subshell: run_netkit-cold restarts the server
    read -r secs bytes <<<"$result"
    times[$s]+="$secs "
    printf 'round %d %-11s %8.3f s %6s MiB/s (%d bytes)\n' "$round" "$s" "$secs" \
      "$(mib_s "$bytes" "$secs")" "$bytes" >&2
  done
done

echo
echo "1 folder of $FILES × $SIZE_MIB MiB, $ROUNDS rounds (MiB/s of file data; the ZIP adds $((zip_len - total)) bytes of records)"
printf '%-28s %10s %10s\n' "" "best" "median"
for s in netkit-cold netkit lighttpd; do
  read -r -a t <<<"${times[$s]}"
  sorted=$(printf '%s\n' "${t[@]}" | sort -g)
  best=$(echo "$sorted" | head -1)
  median=$(echo "$sorted" | sed -n "$(((${#t[@]} + 1) / 2))p")
  case $s in
    netkit-cold) label="netkit ?zip, first download" ;;
    netkit) label="netkit ?zip, CRCs cached" ;;
    lighttpd) label="lighttpd, $FILES GETs" ;;
  esac
  printf '%-28s %7s MiB/s %7s MiB/s\n' "$label" "$(mib_s "$total" "$best")" "$(mib_s "$total" "$median")"
done
