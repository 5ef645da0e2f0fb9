# Sourced by bench/chat-fanout.sh and bench/chat-backplane.sh: a release build,
# a work folder, and chat servers and a redis-server that stop with the script.
# `pids[0]` is redis-server once `start_redis` ran; chat servers follow it.

cargo build --release -q -p netkit
netkit=target/release/netkit
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts `netkit chat serve ARGS` and sets `addr` to its UDP address (from the
# ready line). Not called as $(…): a subshell would lose the pid, and the
# server would outlive the script.
start_chat() {
  local out="$work/chat-$RANDOM.out"
  # --join-rate 0: every member of a bench joins from 127.0.0.1 at once.
  "$netkit" chat serve --bind 127.0.0.1 --port 0 --join-rate 0 "$@" >"$out" 2>>"$work/chat.log" </dev/null &
  pids+=($!)
  for _ in $(seq 200); do
    if grep -q 'listening on udp://' "$out"; then
      addr=$(sed -n 's#^chat listening on udp://##p' "$out"); return
    fi
    sleep 0.05
  done
  echo "chat server did not start" >&2; exit 1
}

# Starts redis-server on a free port with extra ARGS; sets `redis_port`.
start_redis() {
  redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    "$@" --daemonize no >"$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return
    sleep 0.05
  done
  echo "redis-server did not start" >&2; exit 1
}
