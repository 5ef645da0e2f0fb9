#!/usr/bin/env bash
# netkit http serve over TLS against nginx (ssl) and h2o (TLS), side by side,
# with one certificate and key for all three (ECDSA P-256, made here with
# openssl req), measured with wrk over https. Cases: 100 B keep-alive c=50,
# 100 B `Connection: close` c=50 (a full handshake per request: handshakes per
# second), 64 KiB keep-alive c=50, and a 100 MiB download (c=4). Runs
# alternate between servers, each round starting with the next one; the best
# and the median of ROUNDS runs are reported (as bench/http-vs-nginx.sh).
#
#   bash bench/https-vs-peers.sh                        # 10 s runs, 3 rounds
#   DURATION=1s ROUNDS=1 bash bench/https-vs-peers.sh   # a quick check that it works
#   CASES=close bash bench/https-vs-peers.sh            # one case
#
# Environment: DURATION (wrk -d, 10s), ROUNDS (3), THREADS (wrk -t, 2),
# WORKERS (netkit --workers, nginx worker_processes, h2o num-threads; 2),
# BASE_PORT (18443), MODEL (netkit --model; default netkit's default), SERVERS
# ("netkit nginx h2o"), CASES (ka50 close 64k 100m), NETKIT (a netkit binary
# to measure instead of building this tree's release build).
#
# Cipher suites: netkit and nginx pick AES-128-GCM (the server's order);
# h2o 2.2.5 cannot be given a TLS 1.3 order and follows wrk's (OpenSSL's:
# AES-256-GCM first). The "cipher" line below says what each one negotiated.
#
# Under TLS nobody uses sendfile here (no kTLS): each server reads the file
# and encrypts it in user space. netkit reads a FileChunk with pread in
# 64 KiB pieces and hands them to rustls (see crates/proto/src/tls.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
BASE_PORT=${BASE_PORT:-18443}
SERVERS=${SERVERS:-"netkit nginx h2o"}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v h2o >/dev/null || need+=(h2o)
command -v openssl >/dev/null || need+=(openssl)
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
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/www
mkdir -p "$root"
head -c 100 /dev/urandom >"$root/small.bin"
head -c 65536 /dev/urandom >"$root/medium.bin"
head -c $((100 << 20)) /dev/urandom >"$root/large.bin"
# One certificate and key for every server.
cert=$work/cert.pem key=$work/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$key" -out "$cert" 2>/dev/null
chmod -R a+rX "$work"

port_of() {
  case $1 in
    netkit) echo $((BASE_PORT)) ;;
    nginx) echo $((BASE_PORT + 1)) ;;
    h2o) echo $((BASE_PORT + 2)) ;;
  esac
}

start_netkit() {
  local model=()
  [ -n "${MODEL:-}" ] && model=(--model "$MODEL")
  "$NETKIT" http serve "$root" --bind 127.0.0.1 --port "$(port_of netkit)" --quiet \
    --workers "$WORKERS" "${model[@]}" --tls-cert "$cert" --tls-key "$key" \
    >"$work/netkit.out" 2>"$work/netkit.err" &
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
  ssl_protocols TLSv1.2 TLSv1.3;
  # The cipher order netkit uses (AES-128-GCM first, the server's choice).
  ssl_prefer_server_ciphers on;
  ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305;
  ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
  ssl_certificate $cert;
  ssl_certificate_key $key;
  server { listen 127.0.0.1:$(port_of nginx) ssl reuseport; root $root; }
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
  ssl:
    certificate-file: $cert
    key-file: $key
    minimum-version: TLSv1.2
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

wait_ready() {
  for _ in $(seq 100); do
    curl -skf -o /dev/null "https://127.0.0.1:$(port_of "$1")/small.bin" && return 0
    sleep 0.1
  done
  return 1
}

available=()
for s in $SERVERS; do
  case $s in
    netkit) ok=1 ;;
    nginx) [ -x /usr/sbin/nginx ] && ok=1 || ok=0 ;;
    h2o) command -v h2o >/dev/null && ok=1 || ok=0 ;;
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
  "close|100 B Connection: close c=50|/small.bin|50|Connection: close"
  "64k|64 KiB keep-alive c=50|/medium.bin|50|"
  "100m|100 MiB keep-alive c=4|/large.bin|4|"
)
CASES=${CASES:-"ka50 close 64k 100m"}

# Prints "requests/s MB/s" from one wrk run.
measure() {
  local server=$1 path=$2 conns=$3 header=$4 threads=$THREADS
  [ "$conns" -lt "$threads" ] && threads=$conns
  local args=(-t "$threads" -c "$conns" -d "$DURATION")
  [ -n "$header" ] && args+=(-H "$header")
  wrk "${args[@]}" "https://127.0.0.1:$(port_of "$server")$path" 2>&1 | awk '
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

echo "# netkit https vs nginx and h2o $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -srm), $(nproc) CPUs"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "# $(/usr/sbin/nginx -v 2>&1 | sed 's/.*: //'), $(h2o --version 2>/dev/null | head -1), $(openssl version)"
echo "# wrk -t $THREADS -d $DURATION, $ROUNDS alternating rounds (best, median); ECDSA P-256 certificate; workers $WORKERS ${MODEL:+--model $MODEL}"
for s in "${available[@]}"; do
  echo "# $s: $(openssl s_client -connect "127.0.0.1:$(port_of "$s")" </dev/null 2>/dev/null | grep -m1 '^New,')"
done
printf '%-32s %-8s %12s %10s %12s %14s\n' "case" "server" "requests/s" "MB/s" "median r/s" "netkit/best"
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] + 0 }'; }
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
  # netkit against the better of the peers on this case.
  peer=0
  for s in "${available[@]}"; do
    [ "$s" = netkit ] && continue
    awk -v a="$peer" -v b="${best_rps[$s]}" 'BEGIN { exit !(a < b) }' && peer=${best_rps[$s]}
  done
  for s in "${available[@]}"; do
    # shellcheck disable=SC2086 # the list of numbers is meant to split
    med=$(median ${all_rps[$s]})
    r=""
    [ "$s" = netkit ] && r=$(ratio "${best_rps[netkit]}" "$peer")
    printf '%-32s %-8s %12s %10s %12s %14s\n' "$name" "$s" "$(fmt "${best_rps[$s]:-0}")" \
      "${best_mbs[$s]:-0}" "$(fmt "$med")" "$r"
  done
  unset best_rps best_mbs all_rps
done
