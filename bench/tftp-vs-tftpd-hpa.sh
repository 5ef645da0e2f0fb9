#!/usr/bin/env bash
# netkit tftp serve vs tftpd-hpa, side by side in one run, on loopback.
#
# The same downloads of one file (100 MiB by default) with curl at blksize 512,
# 1468 and 65464, served by tftpd-hpa and by netkit; then `netkit tftp get`
# with --windowsize 16 against both (tftpd-hpa 5.2 has no windowsize, so it
# answers without it and the transfer is lockstep) and lockstep against
# netkit at the same block size. Prints MB/s (best and median of REPEAT runs)
# and the ratio of the bests. Each case gets one untimed warm-up download per
# server, then the two servers take turns, in alternating order, so a burst of
# load on the shared machine hits both alike.
#
# Uploads (WRQ): `curl -T` of the same file to both servers at blksize 1428,
# 8192 and 65464 (UP_BLKSIZES), into the one served folder (so both write to
# the same file system), checked byte for byte afterwards. tftpd-hpa runs
# with -c (create) and does not fsync; netkit commits each upload with fsync
# and rename before its last ACK, so its figure includes that.
#
#   bench/tftp-vs-tftpd-hpa.sh                 # 100 MiB, REPEAT=3
#   SIZE_MB=1 REPEAT=1 bench/tftp-vs-tftpd-hpa.sh   # a quick check that it works
#   BLKSIZES=65464 WINDOW=0 bench/tftp-vs-tftpd-hpa.sh   # one curl case only
#   BLKSIZES= WINDOW=0 UP_BLKSIZES=65464 REPEAT=7 bench/tftp-vs-tftpd-hpa.sh   # uploads only
#
# tftpd-hpa is installed if missing; its system service is stopped, and the
# daemon is started by hand in the foreground on a free port, then killed.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MB=${SIZE_MB:-100}
REPEAT=${REPEAT:-3}
WINDOW_BLKSIZE=${WINDOW_BLKSIZE:-1468}
BLKSIZES=${BLKSIZES-512 1468 65464}
UP_BLKSIZES=${UP_BLKSIZES-1428 8192 65464}
WINDOW=${WINDOW:-1}
NETKIT=${NETKIT:-target/release/netkit}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ! -x /usr/sbin/in.tftpd ] || ! command -v curl >/dev/null; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tftpd-hpa curl >&2
fi
# The package starts a system service on port 69; we want only our own instance.
$sudo service tftpd-hpa stop >/dev/null 2>&1 || true
$sudo systemctl disable --now tftpd-hpa >/dev/null 2>&1 || true
[ -x "$NETKIT" ] || cargo build --release -p netkit >&2

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/root"
# owned by us, and tftpd-hpa runs as us (-u): writable for uploads
chmod 755 "$work/root"
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$work/root/file"
chmod 644 "$work/root/file"
bytes=$(stat -c %s "$work/root/file")

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# tftpd-hpa: foreground (-L), standalone (-l), chrooted to the directory (-s).
hpa_port=$(free_port)
$sudo /usr/sbin/in.tftpd -L -l -c -a "127.0.0.1:$hpa_port" -s "$work/root" -u "$(id -un)" &
pids+=($!)
for _ in $(seq 100); do
  ss -Hlun "sport = :$hpa_port" 2>/dev/null | grep -q . && break
  sleep 0.05
done

"$NETKIT" tftp serve "$work/root" --bind 127.0.0.1 --port 0 --upload >"$work/netkit.out" 2>"$work/netkit.err" &
pids+=($!)
for _ in $(seq 100); do
  grep -q "listening on" "$work/netkit.out" 2>/dev/null && break
  sleep 0.05
done
nk_port=$(sed -n 's|.*udp://127.0.0.1:\([0-9]*\).*|\1|p' "$work/netkit.out")
[ -n "$nk_port" ] || { echo "netkit did not start" >&2; cat "$work/netkit.err" >&2; exit 1; }

# where a timed run delivers the file: $work/out for downloads,
# $work/root/up for uploads
OUT="$work/out"

# one timed run of a command that writes $OUT: MB/s, or 0 if it failed
# or delivered anything but the file
run_once() {
  local t0 t1
  rm -f "$OUT"
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$work/client.err" || { echo "failed: $* ($(cat "$work/client.err"))" >&2; echo 0; return; }
  t1=$(date +%s.%N)
  cmp -s "$OUT" "$work/root/file" || { echo "corrupt transfer: $*" >&2; echo 0; return; }
  rm -f "$OUT"
  awk -v b="$bytes" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.1f", b / (t1 - t0) / 1e6 }'
}

# "best median" of a list of MB/s figures
best_median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.1f %.1f", v[NR], m }'
}

# compare A_CMD… -- B_CMD…: a warm-up of each, then REPEAT rounds taking turns
# (A first in odd rounds, B first in even ones); sets A_BEST A_MED B_BEST B_MED
compare() {
  local a=() b=() ra=() rb=() r
  while [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  run_once "${a[@]}" >/dev/null
  run_once "${b[@]}" >/dev/null
  for r in $(seq "$REPEAT"); do
    if [ $((r % 2)) -eq 1 ]; then
      ra+=("$(run_once "${a[@]}")")
      rb+=("$(run_once "${b[@]}")")
    else
      rb+=("$(run_once "${b[@]}")")
      ra+=("$(run_once "${a[@]}")")
    fi
  done
  read -r A_BEST A_MED <<<"$(best_median "${ra[@]}")"
  read -r B_BEST B_MED <<<"$(best_median "${rb[@]}")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

row() { # case, hpa best, hpa median, netkit best, netkit median
  printf '%-42s %8s %8s %8s %8s %7sx %7sx\n' "$1" "$2" "$3" "$4" "$5" "$(ratio "$4" "$2")" "$(ratio "$5" "$3")"
}

echo "file: $SIZE_MB MiB, $REPEAT rounds after a warm-up, loopback; tftpd-hpa $(/usr/sbin/in.tftpd -V 2>&1 | awk '{sub(",", "", $2); print $2}')"
echo "MB/s, best and median of the rounds; ratio = netkit / tftpd-hpa"
printf '%-42s %8s %8s %8s %8s %8s %8s\n' "case" "hpa best" "hpa med" "nk best" "nk med" "best" "median"
for blk in $BLKSIZES; do
  compare curl -sS --tftp-blksize "$blk" -o "$work/out" "tftp://127.0.0.1:$hpa_port/file" \
    -- curl -sS --tftp-blksize "$blk" -o "$work/out" "tftp://127.0.0.1:$nk_port/file"
  row "curl --tftp-blksize $blk" "$A_BEST" "$A_MED" "$B_BEST" "$B_MED"
done
OUT="$work/root/up"
for blk in $UP_BLKSIZES; do
  compare curl -sS --tftp-blksize "$blk" -T "$work/root/file" "tftp://127.0.0.1:$hpa_port/up" \
    -- curl -sS --tftp-blksize "$blk" -T "$work/root/file" "tftp://127.0.0.1:$nk_port/up"
  row "curl -T --tftp-blksize $blk (upload)" "$A_BEST" "$A_MED" "$B_BEST" "$B_MED"
done
OUT="$work/out"
[ "$WINDOW" = 1 ] || exit 0
w_args=(--blksize "$WINDOW_BLKSIZE" --windowsize 16)
compare "$NETKIT" tftp get "127.0.0.1:$hpa_port" file "$work/out" "${w_args[@]}" \
  -- "$NETKIT" tftp get "127.0.0.1:$nk_port" file "$work/out" "${w_args[@]}"
row "netkit get ${w_args[*]}" "$A_BEST" "$A_MED" "$B_BEST" "$B_MED"
l=()
for _ in $(seq "$REPEAT"); do
  l+=("$(run_once "$NETKIT" tftp get "127.0.0.1:$nk_port" file "$work/out" --blksize "$WINDOW_BLKSIZE")")
done
read -r L_BEST L_MED <<<"$(best_median "${l[@]}")"
printf '%-42s %17s %8s %8s\n' "netkit get --blksize $WINDOW_BLKSIZE (lockstep)" "" "$L_BEST" "$L_MED"
echo "windowsize 16 vs lockstep at blksize $WINDOW_BLKSIZE (netkit server, best): $(ratio "$B_BEST" "$L_BEST")x"
