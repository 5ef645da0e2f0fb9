#!/usr/bin/env bash
# Soak: mixed load against HTTP, files, TFTP and chat servers for DURATION
# seconds (default 600), then a report: requests and errors per service, each
# server's RSS over time (first, max, last) and its open descriptors
# (/proc/PID/fd) at the start and 5 s after the load ends — a leak shows as growth.
#
#   bench/soak.sh 600          # the 10-minute run the issue asks for
#   bench/soak.sh 30           # a smoke run
#   NETKIT=target/debug/netkit MODEL=thread bench/soak.sh 60
#
# Load, all from one Python process (stdlib only), THREADS workers per kind:
# HTTP GET of small and 1 MiB files, keep-alive and not, Range requests, PUT
# (upload on) and DELETE; files LIST/GET/PUT; TFTP RRQ and WRQ; chat members
# that JOIN, SAY, PING, LEAVE. Every answer is checked byte for byte (an
# unexpected status, a wrong body or a timeout is an error). Exit status 1 if
# any error occurred or a server died.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-600}
netkit=${NETKIT:-target/release/netkit}
[ -x "$netkit" ] || cargo build --release -q -p netkit
model=${MODEL:-epoll}
work=$(mktemp -d)
pids=()
cleanup() {
  # start() runs in $(…), a subshell: its pids reach us through the .pid files.
  for p in "${pids[@]}" $(cat "$work"/*.pid 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root"
head -c 1048576 /dev/urandom > "$work/root/big.bin"
printf 'hello\n' > "$work/root/small.txt"

start() { # name, then the command; prints the ready URL's host:port
  local name=$1; shift
  "$@" > "$work/$name.out" 2> "$work/$name.err" &
  pids+=($!)
  echo $! > "$work/$name.pid"
  for _ in $(seq 1 200); do
    if grep -q ' listening on ' "$work/$name.out" 2>/dev/null; then break; fi
    sleep 0.05
  done
  grep -m1 ' listening on ' "$work/$name.out" | sed 's|.*://||'
}
http=$(start http "$netkit" http serve "$work/root" --bind 127.0.0.1 --port 0 --upload --overwrite --quiet --model "$model")
files=$(start files "$netkit" files serve "$work/root" --bind 127.0.0.1 --port 0 --upload --overwrite --model "$model")
tftp=$(start tftp "$netkit" tftp serve "$work/root" --bind 127.0.0.1 --port 0 --upload --overwrite)
chat=$(start chat "$netkit" chat serve --bind 127.0.0.1 --port 0 --rate 0 --join-rate 0)
echo "soak: ${duration}s, model $model; http $http, files $files, tftp $tftp, chat $chat" >&2

python3 - "$duration" "$work" "$http" "$files" "$tftp" "$chat" <<'PY'
import hashlib, os, random, socket, sys, threading, time
duration, work = float(sys.argv[1]), sys.argv[2]
addr = lambda s: (s.rsplit(':', 1)[0], int(s.rsplit(':', 1)[1]))
HTTP, FILES, TFTP, CHAT = (addr(a) for a in sys.argv[3:7])
big = open(f"{work}/root/big.bin", "rb").read()
stop = time.time() + duration
lock = threading.Lock()
counts = {k: [0, 0] for k in ("http", "files", "tftp", "chat")}
errors = []

def record(kind, ok, why=""):
    with lock:
        counts[kind][0] += 1
        if not ok:
            counts[kind][1] += 1
            if len(errors) < 20:
                errors.append(f"{kind}: {why}")

def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(min(1 << 20, n - len(out)))
        if not b:
            raise IOError("closed early")
        out += b
    return bytes(out)

def http_reply(f):
    line = f.readline()
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, _, v = h.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    return int(line.split()[1]), f.read(n), headers

def http_worker(i):
    rnd = random.Random(i)
    while time.time() < stop:
        try:
            s = socket.create_connection(HTTP, timeout=10)
            f = s.makefile("rb")
            for _ in range(rnd.randint(1, 20)):
                op = rnd.random()
                if op < 0.5:
                    s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: s\r\n\r\n")
                    st, body, _ = http_reply(f); record("http", st == 200 and body == b"hello\n", f"small {st}")
                elif op < 0.7:
                    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: s\r\n\r\n")
                    st, body, _ = http_reply(f); record("http", st == 200 and body == big, f"big {st}")
                elif op < 0.8:
                    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: s\r\nRange: bytes=100-199\r\n\r\n")
                    st, body, _ = http_reply(f); record("http", st == 206 and body == big[100:200], f"range {st}")
                else:
                    data = os.urandom(rnd.randint(0, 200000)); name = f"/up-http-{i}.bin"
                    s.sendall(f"PUT {name} HTTP/1.1\r\nHost: s\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
                    st, _, _ = http_reply(f); record("http", st in (201, 204), f"put {st}")
                    s.sendall(f"GET {name} HTTP/1.1\r\nHost: s\r\n\r\n".encode())
                    st, body, _ = http_reply(f); record("http", st == 200 and body == data, f"get-after-put {st}")
            s.close()
        except Exception as e:
            record("http", False, repr(e))

def files_worker(i):
    rnd = random.Random(100 + i)
    while time.time() < stop:
        try:
            s = socket.create_connection(FILES, timeout=10)
            f = s.makefile("rb")
            for _ in range(rnd.randint(1, 20)):
                op = rnd.random()
                if op < 0.2:
                    s.sendall(b"LIST\n"); n = int(f.readline().split()[1])
                    for _ in range(n): f.readline()
                    record("files", n >= 2, "list")
                elif op < 0.7:
                    s.sendall(b"GET big.bin\n"); line = f.readline()
                    ok = line == b"OK %d\n" % len(big) and f.read(len(big)) == big
                    record("files", ok, f"get {line!r}")
                else:
                    data = os.urandom(rnd.randint(0, 300000))
                    s.sendall(b"PUT up-files-%d.bin %d\n" % (i, len(data)))
                    if f.readline() != b"READY\n":
                        record("files", False, "no READY"); break
                    s.sendall(data); line = f.readline()
                    record("files", line == b"OK " + hashlib.sha256(data).hexdigest().encode() + b"\n", f"put {line!r}")
            s.sendall(b"QUIT\n"); f.readline(); s.close()
        except Exception as e:
            record("files", False, repr(e))

def tftp_worker(i):
    rnd = random.Random(200 + i)
    while time.time() < stop:
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)
            if rnd.random() < 0.7:
                u.sendto(b"\0\1big.bin\0octet\0blksize\0" + b"1428\0", TFTP)
                got, expect, peer = bytearray(), 1, None
                while True:
                    p, peer = u.recvfrom(70000)
                    op = p[1]
                    if op == 6:  # OACK
                        u.sendto(b"\0\4\0\0", peer); continue
                    if op != 3: raise IOError(f"op {op}")
                    blk = int.from_bytes(p[2:4], "big")
                    if blk == expect & 0xFFFF:
                        got += p[4:]; expect += 1
                    u.sendto(b"\0\4" + p[2:4], peer)
                    if len(p) - 4 < 1428: break
                record("tftp", bytes(got) == big, "rrq bytes")
            else:
                data = os.urandom(rnd.randint(0, 100000))
                u.sendto(b"\0\2up-tftp-%d.bin\0octet\0" % i, TFTP)
                p, peer = u.recvfrom(600)
                if p[:4] != b"\0\4\0\0": raise IOError(f"wrq {p!r}")
                blocks = [data[k:k + 512] for k in range(0, len(data) + 1, 512)]
                for n, b in enumerate(blocks, 1):
                    pkt = b"\0\3" + (n & 0xFFFF).to_bytes(2, "big") + b
                    for _ in range(5):
                        u.sendto(pkt, peer)
                        try:
                            a, _ = u.recvfrom(600)
                            if a[:4] == b"\0\4" + (n & 0xFFFF).to_bytes(2, "big"): break
                        except socket.timeout:
                            pass
                    else:
                        raise IOError("no ack")
                record("tftp", True)
            u.close()
        except Exception as e:
            record("tftp", False, repr(e))

def chat_worker(i):
    n = 0
    while time.time() < stop:
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
            name = f"soak{i}x{n}"; n += 1
            # UDP may drop a datagram (our own receive buffer fills with other
            # members' messages): ask again, as `netkit chat join` does.
            def ask(req, want):
                for _ in range(4):
                    u.sendto(req, CHAT)
                    try:
                        while not u.recvfrom(70000)[0].startswith(want): pass
                        return
                    except socket.timeout:
                        pass
                raise IOError(f"no {want!r} for {req!r} after 4 tries")
            ask(b"JOIN " + name.encode(), b"OK ")
            for k in range(20):
                u.sendto(b"SAY hello %d" % k, CHAT)
            ask(b"PING", b"PONG")
            u.sendto(b"LEAVE", CHAT)
            record("chat", True)
            u.close()
        except Exception as e:
            record("chat", False, repr(e))

def sampler():
    pids = {k: int(open(f"{work}/{k}.pid").read()) for k in ("http", "files", "tftp", "chat")}
    series = {k: [] for k in pids}
    while time.time() < stop + 6:  # the last samples: after the load, idle
        for k, pid in pids.items():
            try:
                rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
                fds = len(os.listdir(f"/proc/{pid}/fd"))
                series[k].append((rss, fds))
            except OSError:
                series[k].append((None, None))
        time.sleep(1)
    return series

result = {}
t = threading.Thread(target=lambda: result.setdefault("s", sampler())); t.start()
workers = [threading.Thread(target=w, args=(i,)) for w in (http_worker, files_worker, tftp_worker, chat_worker) for i in range(3)]
for w in workers: w.start()
for w in workers: w.join()
t.join()
print(f"{'service':8} {'requests':>9} {'errors':>7}   {'RSS KiB first/max/last':>24}   {'fds start/end':>13}")
bad = sum(c[1] for c in counts.values())
for k, (n, e) in counts.items():
    s = [x for x in result["s"][k] if x[0] is not None]
    if len(s) < len(result["s"][k]):
        bad += 1; print(f"{k}: the server died")
    rss = f"{s[0][0]}/{max(x[0] for x in s)}/{s[-1][0]}" if s else "-"
    fds = f"{s[0][1]}/{s[-1][1]}" if s else "-"
    print(f"{k:8} {n:9d} {e:7d}   {rss:>24}   {fds:>13}")
print("RSS samples (KiB, one per second), http:", " ".join(str(x[0]) for x in result["s"]["http"][::max(1, len(result["s"]["http"]) // 20)]))
for e in errors: print("error:", e)
sys.exit(1 if bad else 0)
PY
