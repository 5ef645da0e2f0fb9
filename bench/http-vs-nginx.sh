#!/usr/bin/env bash
# netkit http serve against nginx (2 workers, access_log off, sendfile on), with
# h2o and lighttpd as the top of the bar, on one fixture tree, measured with wrk.
# Runs alternate between servers (netkit, nginx, h2o, lighttpd, netkit, …) so a
# noisy neighbour hurts everyone alike; the best and the median of ROUNDS runs
# are reported (each round starts with the next server in turn, so no server
# always runs first).
#
#   bash bench/http-vs-nginx.sh                       # 10 s runs, 3 rounds
#   DURATION=1s ROUNDS=1 bash bench/http-vs-nginx.sh  # a quick check that it works
#   CASES=close DURATION=5s ROUNDS=3 bash bench/http-vs-nginx.sh  # one case
#
# Environment: DURATION (wrk -d, default 10s), ROUNDS (3), THREADS (wrk -t, 2),
# WORKERS (netkit --workers and nginx/h2o worker count, 2), BASE_PORT (18080),
# MODEL (netkit --model, default: netkit's default), IDLE (idle keep-alive
# connections whose memory is measured at the end, 10000; 0 skips), SERVERS (default
# "netkit nginx h2o lighttpd"; servers whose program is missing after apt-get are
# left out with a note), CASES (the cases to run, by key: ka50 ka500 close 64k
# 100m; default all), NETKIT (a netkit binary to measure instead of building
# this tree's). SERVERS may add netkit-1w: netkit with --workers 1, a row for
# comparison (the netkit row stays the one with WORKERS). netkit-uring is netkit
# with --model uring (io_uring completions instead of epoll readiness).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
BASE_PORT=${BASE_PORT:-18080}
SERVERS=${SERVERS:-"netkit netkit-uring nginx h2o lighttpd"}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v h2o >/dev/null || need+=(h2o)
[ -x /usr/sbin/lighttpd ] || need+=(lighttpd)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >&2 || true
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [ -z "${NETKIT:-}" ]; then
  cargo build --release -q -p netkit
  NETKIT=target/release/netkit
fi

work=$(mktemp -d)
pids=()
netkit_pid=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The fixture tree: a 100-byte file, a 64 KiB file, a 100 MiB file.
root=$work/www
mkdir -p "$root"
head -c 100 /dev/urandom >"$root/small.bin"
head -c 65536 /dev/urandom >"$root/medium.bin"
head -c $((100 << 20)) /dev/urandom >"$root/large.bin"
chmod -R a+rX "$work"

port_of() {
  case $1 in
    netkit) echo $((BASE_PORT)) ;;
    nginx) echo $((BASE_PORT + 1)) ;;
    h2o) echo $((BASE_PORT + 2)) ;;
    lighttpd) echo $((BASE_PORT + 3)) ;;
    netkit-1w) echo $((BASE_PORT + 4)) ;;
    netkit-uring) echo $((BASE_PORT + 5)) ;;
  esac
}

start_netkit() {
  local model=()
  [ -n "${MODEL:-}" ] && model=(--model "$MODEL")
  "$NETKIT" http serve "$root" --bind 127.0.0.1 --port "$(port_of netkit)" --quiet \
    --workers "$WORKERS" "${model[@]}" >"$work/netkit.out" 2>"$work/netkit.err" &
  pids+=($!)
  netkit_pid=$!
}

start_netkit-1w() {
  local model=()
  [ -n "${MODEL:-}" ] && model=(--model "$MODEL")
  "$NETKIT" http serve "$root" --bind 127.0.0.1 --port "$(port_of netkit-1w)" --quiet \
    --workers 1 "${model[@]}" >"$work/netkit-1w.out" 2>"$work/netkit-1w.err" &
  pids+=($!)
}

start_netkit-uring() {
  "$NETKIT" http serve "$root" --bind 127.0.0.1 --port "$(port_of netkit-uring)" --quiet \
    --workers "$WORKERS" --model uring >"$work/netkit-uring.out" 2>"$work/netkit-uring.err" &
  pids+=($!)
}

start_nginx() {
  local user=""
  [ "$(id -u)" -eq 0 ] && user="user root;"
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<EOF
$user
worker_processes $WORKERS;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$(port_of nginx) reuseport; root $root; }
}
EOF
  /usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' \
    2>"$work/nginx.err" &
  pids+=($!)
}

start_h2o() {
  local user=""
  [ "$(id -u)" -eq 0 ] && user="user: root"
  cat >"$work/h2o.conf" <<EOF
$user
listen:
  host: 127.0.0.1
  port: $(port_of h2o)
num-threads: $WORKERS
http1-request-timeout: 60
hosts:
  default:
    paths:
      /:
        file.dir: $root
EOF
  h2o -c "$work/h2o.conf" >"$work/h2o.out" 2>"$work/h2o.err" &
  pids+=($!)
}

start_lighttpd() {
  cat >"$work/lighttpd.conf" <<EOF
server.document-root = "$root"
server.bind = "127.0.0.1"
server.port = $(port_of lighttpd)
server.errorlog = "$work/lighttpd.err"
server.max-fds = 16384
server.max-connections = 8192
server.max-keep-alive-requests = 1000000
mimetype.assign = (".bin" => "application/octet-stream")
EOF
  /usr/sbin/lighttpd -D -f "$work/lighttpd.conf" >"$work/lighttpd.out" 2>&1 &
  pids+=($!)
}

# Waits (bounded) until the server answers the small file.
wait_ready() {
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$(port_of "$1")/small.bin" && return 0
    sleep 0.1
  done
  return 1
}

available=()
for s in $SERVERS; do
  case $s in
    netkit | netkit-1w | netkit-uring) ok=1 ;;
    nginx) [ -x /usr/sbin/nginx ] && ok=1 || ok=0 ;;
    h2o) command -v h2o >/dev/null && ok=1 || ok=0 ;;
    lighttpd) [ -x /usr/sbin/lighttpd ] && ok=1 || ok=0 ;;
    *) echo "unknown server $s" >&2; exit 2 ;;
  esac
  if [ "$ok" = 1 ]; then
    "start_$s"
    if wait_ready "$s"; then available+=("$s"); else echo "note: $s did not start; left out" >&2; fi
  else
    echo "note: $s is not installed; left out" >&2
  fi
done

# key | case name | path | connections | extra wrk header
cases=(
  "ka50|100 B keep-alive c=50|/small.bin|50|"
  "ka500|100 B keep-alive c=500|/small.bin|500|"
  "close|100 B Connection: close c=50|/small.bin|50|Connection: close"
  "64k|64 KiB keep-alive c=50|/medium.bin|50|"
  "100m|100 MiB keep-alive c=4|/large.bin|4|"
)
CASES=${CASES:-"ka50 ka500 close 64k 100m"}

# Prints "requests/s MB/s" from one wrk run.
measure() {
  local server=$1 path=$2 conns=$3 header=$4 threads=$THREADS
  [ "$conns" -lt "$threads" ] && threads=$conns
  local args=(-t "$threads" -c "$conns" -d "$DURATION" --latency)
  [ -n "$header" ] && args+=(-H "$header")
  wrk "${args[@]}" "http://127.0.0.1:$(port_of "$server")$path" 2>&1 | awk '
    /^Requests\/sec:/ { rps = $2 }
    /^Transfer\/sec:/ {
      v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[A-Za-z]+$/, "", v)
      mult = 1 / 1e6
      if (unit == "KB") mult = 1024 / 1e6
      if (unit == "MB") mult = 1048576 / 1e6
      if (unit == "GB") mult = 1073741824 / 1e6
      mbs = v * mult
    }
    END { printf "%.2f %.1f\n", rps + 0, mbs + 0 }'
}

echo "# netkit http vs nginx $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -srm), $(nproc) CPUs"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "# wrk -t $THREADS -d $DURATION, $ROUNDS alternating rounds (best, median); netkit --workers $WORKERS ${MODEL:+--model $MODEL}"
printf '%-32s %-12s %12s %10s %12s %16s\n' "case" "server" "requests/s" "MB/s" "median r/s" "netkit/nginx"
# The median of the numbers given as arguments (the lower middle one of an
# even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] + 0 }'; }
# Requests/s as printed: whole numbers, two decimals below 100 (large files).
fmt() { awk -v v="$1" 'BEGIN { if (v < 100) printf "%.2f", v; else printf "%.0f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b }'; }
for c in "${cases[@]}"; do
  IFS='|' read -r key name path conns header <<<"$c"
  case " $CASES " in *" $key "*) ;; *) continue ;; esac
  declare -A best_rps=() best_mbs=() all_rps=()
  n=${#available[@]}
  for round in $(seq "$ROUNDS"); do
    for i in $(seq 0 $((n - 1))); do
      s=${available[$(((i + round - 1) % n))]}
      read -r rps mbs <<<"$(measure "$s" "$path" "$conns" "$header")"
      all_rps[$s]="${all_rps[$s]:-} $rps"
      if awk -v a="${best_rps[$s]:-0}" -v b="$rps" 'BEGIN { exit !(a < b) }'; then
        best_rps[$s]=$rps
        best_mbs[$s]=$mbs
      fi
    done
  done
  declare -A med=()
  for s in "${available[@]}"; do
    # shellcheck disable=SC2086 # the list of numbers is meant to split
    med[$s]=$(median ${all_rps[$s]})
  done
  for s in "${available[@]}"; do
    r=""
    case $s in
      netkit | netkit-uring)
        if [ -n "${best_rps[nginx]:-}" ]; then
          r="$(ratio "${best_rps[$s]}" "${best_rps[nginx]}") (median $(ratio "${med[$s]}" "${med[nginx]}"))"
        fi
        ;;
    esac
    printf '%-32s %-12s %12s %10s %12s %16s\n' "$name" "$s" "$(fmt "${best_rps[$s]:-0}")" \
      "${best_mbs[$s]:-0}" "$(fmt "${med[$s]}")" "$r"
  done
  unset best_rps best_mbs all_rps med
done

# Idle keep-alive connections: IDLE connections (default 10000; 0 skips) each
# make one request and then stay open, idle; netkit's resident memory before
# and after (VmRSS).
IDLE=${IDLE:-10000}
if [ "$IDLE" -gt 0 ] && [ -n "${netkit_pid:-}" ] && command -v python3 >/dev/null; then
  python3 - "$IDLE" "$(port_of netkit)" "$netkit_pid" <<'PY'
import re, resource, socket, sys
n, port, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 200), hard))
rss = lambda: int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))
before, socks = rss(), []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /small.bin HTTP/1.1\r\nHost: b\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 100:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("connection closed before its reply")
        got += chunk
    socks.append(s)
after = rss()
print(f"idle keep-alive: {n} connections, netkit VmRSS {before / 1024:.1f} MiB before, "
      f"{after / 1024:.1f} MiB with all idle ({(after - before) * 1024 / n:.0f} bytes each)")
PY
fi
