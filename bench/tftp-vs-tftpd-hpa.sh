#!/usr/bin/env bash
# netkit tftp serve vs tftpd-hpa, side by side in one run, on loopback.
#
# The same downloads of one file (100 MiB by default) with curl at blksize 512,
# 1468 and 65464, served by tftpd-hpa and by netkit; then `netkit tftp get`
# with --windowsize 16 against both (tftpd-hpa 5.2 has no windowsize, so it
# answers without it and the transfer is lockstep) and lockstep against
# netkit at the same block size. Prints MB/s and ratios; best of REPEAT runs.
#
#   bench/tftp-vs-tftpd-hpa.sh                 # 100 MiB, best of 3
#   SIZE_MB=1 REPEAT=1 bench/tftp-vs-tftpd-hpa.sh   # a quick check that it works
#
# tftpd-hpa is installed if missing; its system service is stopped, and the
# daemon is started by hand in the foreground on a free port, then killed.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MB=${SIZE_MB:-100}
REPEAT=${REPEAT:-3}
WINDOW_BLKSIZE=${WINDOW_BLKSIZE:-1468}
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
chmod 755 "$work/root"
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$work/root/file"
chmod 644 "$work/root/file"
bytes=$(stat -c %s "$work/root/file")

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# tftpd-hpa: foreground (-L), standalone (-l), chrooted to the directory (-s).
hpa_port=$(free_port)
$sudo /usr/sbin/in.tftpd -L -l -a "127.0.0.1:$hpa_port" -s "$work/root" -u "$(id -un)" &
pids+=($!)
for _ in $(seq 100); do
  ss -Hlun "sport = :$hpa_port" 2>/dev/null | grep -q . && break
  sleep 0.05
done

"$NETKIT" tftp serve "$work/root" --bind 127.0.0.1 --port 0 >"$work/netkit.out" 2>"$work/netkit.err" &
pids+=($!)
for _ in $(seq 100); do
  grep -q "listening on" "$work/netkit.out" 2>/dev/null && break
  sleep 0.05
done
nk_port=$(sed -n 's|.*udp://127.0.0.1:\([0-9]*\).*|\1|p' "$work/netkit.out")
[ -n "$nk_port" ] || { echo "netkit did not start" >&2; cat "$work/netkit.err" >&2; exit 1; }

# best MB/s of REPEAT runs of a command that writes $work/out
best_of() {
  local best=0 t0 t1
  for _ in $(seq "$REPEAT"); do
    rm -f "$work/out"
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>"$work/client.err" || { echo "failed: $* ($(cat "$work/client.err"))" >&2; echo 0; return; }
    t1=$(date +%s.%N)
    cmp -s "$work/out" "$work/root/file" || { echo "corrupt download: $*" >&2; echo 0; return; }
    best=$(awk -v b="$bytes" -v t0="$t0" -v t1="$t1" -v best="$best" \
      'BEGIN { m = b / (t1 - t0) / 1e6; print (m > best ? m : best) }')
  done
  printf '%.1f' "$best"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "file: $SIZE_MB MiB, best of $REPEAT, loopback; tftpd-hpa $(/usr/sbin/in.tftpd -V 2>&1 | awk '{sub(",", "", $2); print $2}')"
printf '%-42s %12s %12s %8s\n' "case" "tftpd-hpa" "netkit" "ratio"
for blk in 512 1468 65464; do
  h=$(best_of curl -sS --tftp-blksize "$blk" -o "$work/out" "tftp://127.0.0.1:$hpa_port/file")
  n=$(best_of curl -sS --tftp-blksize "$blk" -o "$work/out" "tftp://127.0.0.1:$nk_port/file")
  printf '%-42s %9s MB/s %7s MB/s %7sx\n' "curl --tftp-blksize $blk" "$h" "$n" "$(ratio "$n" "$h")"
done
w_args=(--blksize "$WINDOW_BLKSIZE" --windowsize 16)
h=$(best_of "$NETKIT" tftp get "127.0.0.1:$hpa_port" file "$work/out" "${w_args[@]}")
n=$(best_of "$NETKIT" tftp get "127.0.0.1:$nk_port" file "$work/out" "${w_args[@]}")
printf '%-42s %9s MB/s %7s MB/s %7sx\n' "netkit get ${w_args[*]}" "$h" "$n" "$(ratio "$n" "$h")"
l=$(best_of "$NETKIT" tftp get "127.0.0.1:$nk_port" file "$work/out" --blksize "$WINDOW_BLKSIZE")
printf '%-42s %12s %7s MB/s\n' "netkit get --blksize $WINDOW_BLKSIZE (lockstep)" "" "$l"
echo "windowsize 16 vs lockstep at blksize $WINDOW_BLKSIZE (netkit server): $(ratio "$n" "$l")x"
