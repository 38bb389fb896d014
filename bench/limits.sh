#!/usr/bin/env bash
# Limits benchmark: the same traffic through three gateways in one run, on one mock —
# limits off, limits in the process, limits through Redis — alternating, so all three share
# the machine's load of the moment. The demo key gets a rate, a token limit, a concurrency
# limit and a daily budget high enough never to refuse (every limit is checked and taken on
# every request); its provider key gets a rate and a concurrency limit.
#
# Reports, per row, the medians of ROUNDS runs: req/s, p50 and the gateway's CPU per request
# at CONNS connections, and p50 at one connection (the latency a limit adds); for Redis, the
# Redis round trips per request (the scripts Redis ran over the run, by its own counts).
#
# Usage: bench/limits.sh [seconds-per-run] [connections]   (ROUNDS=3 by default)
# Needs: wrk, python3, redis-server (a throwaway one is started on a free port), a release
# build of aether.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-8}
CONNS=${2:-32}
ROUNDS=${ROUNDS:-3}
THREADS=2
BIN=${AETHER_BIN:-target/release/aether}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
for tool in wrk redis-server redis-cli; do command -v $tool >/dev/null || { echo "install $tool" >&2; exit 1; }; done
[ -x "$BIN" ] || cargo build --release -p aether

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOCK=$(free_port); REDIS=$(free_port); WORK=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; redis-cli -p "$REDIS" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; }

redis-server --port "$REDIS" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes >/dev/null
"$BIN" mock --listen "127.0.0.1:$MOCK" >/dev/null 2>&1 & MOCK_PID=$!; pids+=($MOCK_PID)
wait_port "$MOCK"; wait_port "$REDIS"

LIMITS='[client_keys.limits]
requests_per_minute = 100000000
tokens_per_minute = 100000000000
concurrent = 100000
budget_usd = { daily = 1000000.0 }
'
# A gateway (telemetry off) with `$2` after its client key and `$3` at the end; echoes "port pid".
gateway() {
  local name=$1 client_extra=$2 tail_extra=$3 port admin; port=$(free_port); admin=$(free_port)
  python3 - conf/examples/local-mock.toml "$WORK/$name.toml" "$MOCK" "$port" "$admin" "$WORK" "$name" "$client_extra" "$tail_extra" <<'PY'
import sys
src, dst, mock, port, admin, work, name, client_extra, tail_extra = sys.argv[1:10]
t = open(src).read()
t = t.replace("127.0.0.1:9100", f"127.0.0.1:{mock}").replace("127.0.0.1:8080", f"127.0.0.1:{port}")
t = t.replace("127.0.0.1:9090", f"127.0.0.1:{admin}").replace("threads = 2", f'threads = 2\nupgrade_sock = "{work}/{name}.sock"\npid_file = "{work}/{name}.pid"')
# The demo key's limits go right after its hash; the Claude provider's key gets its own.
anchor = 'key_sha256 = "06631918ee659f7a10315e68bc948e0044ca7ff537adc8cb860b8e4ca79143f7"\n'
t = t.replace(anchor, anchor + client_extra, 1)
if client_extra:
    t = t.replace('keys = [{ name = "demo", api_key = "mock-key" }]', 'keys = [{ name = "demo", api_key = "mock-key", limits = { requests_per_minute = 100000000, concurrent = 100000 } }]')
t += "\n[pricing.models.\"mock-claude\"]\ninput = 3.0\noutput = 15.0\n\n[telemetry]\nsink = \"off\"\n" + tail_extra
open(dst, "w").write(t)
PY
  RUST_LOG=warn "$BIN" serve --config "$WORK/$name.toml" >"$WORK/$name.log" 2>&1 &
  local pid=$!; pids+=($pid)
  wait_port "$port"
  echo "$port $pid $admin"
}
read -r OFF_GW OFF_PID OFF_ADMIN <<<"$(gateway off "" "")"
read -r LOCAL_GW LOCAL_PID LOCAL_ADMIN <<<"$(gateway local "$LIMITS" "")"
read -r REDIS_GW REDIS_PID REDIS_ADMIN <<<"$(gateway redis "$LIMITS" "
[redis]
url = \"redis://127.0.0.1:$REDIS\"
")"
pids+=("$OFF_PID" "$LOCAL_PID" "$REDIS_PID")

ticks() {
  [ -r "/proc/$1/stat" ] || { echo "process $1 is gone; the gateways' logs:" >&2; tail -n 20 "$WORK"/*.log >&2; exit 1; }
  awk '{print $14+$15}' "/proc/$1/stat"
}
# Round trips: the scripts called (a command a script runs inside Redis is not one).
redis_calls() { redis-cli -p "$REDIS" info commandstats | python3 -c '
import re, sys
print(sum(int(m.group(1)) for m in re.finditer(r"cmdstat_(?:evalsha|eval|script):calls=(\d+)", sys.stdin.read())))'; }
# One run: "req/s p50_ms cpu_us_per_request redis_calls_per_request".
run() {
  local gw=$1 pid=$2 conns=$3; shift 3
  local before calls_before; before=$(ticks "$pid"); calls_before=$(redis_calls)
  env "$@" wrk -t$(( conns < THREADS ? conns : THREADS )) -c"$conns" -d${DURATION}s --latency -s bench/convert.lua "http://127.0.0.1:$gw/v1/messages" > "$WORK/wrk.txt"
  local used=$(( $(ticks "$pid") - before )) calls=$(( $(redis_calls) - calls_before ))
  PYTHONPATH=bench python3 - "$WORK/wrk.txt" "$used" "$(getconf CLK_TCK)" "$calls" <<'PY'
import sys
from wrk_stats import parse
s = parse(sys.argv[1])
used, hz, calls = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if s.non2xx:
    sys.exit(f"{s.non2xx} non-2xx responses: a limit refused (raise it) or the gateway failed")
print(f"{s.rps:.0f} {s.p50_ms:.3f} {used / hz * 1e6 / s.requests:.1f} {calls / s.requests:.2f}")
PY
}

echo "# bench/limits.sh $DURATION $CONNS, ROUNDS=$ROUNDS — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo
echo "Claude client → Claude upstream (the mock), limits off / in the process / through Redis;"
echo "medians of $ROUNDS runs each, alternating. Ratios are against limits off."
echo
echo "| traffic | limits | req/s ($CONNS conns) | p50 ms | gateway CPU µs / req | CPU vs off | p50 ms at 1 conn | added at 1 conn, µs | Redis round trips / req |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for traffic in "body:0:text:20:1" "stream20:1:text:20:1"; do
  IFS=: read -r label stream scenario chunks tools <<<"$traffic"
  vars=(STREAM=$stream SCENARIO=$scenario CHUNKS=$chunks TOOLS=$tools CLIENT=claude MODEL=mock-claude)
  for which in off local redis; do : > "$WORK/$which.txt"; : > "$WORK/$which-1.txt"; done
  for round in $(seq "$ROUNDS"); do
    order="off local redis"; [ $((round % 2)) -eq 0 ] && order="redis local off"
    for which in $order; do
      case $which in off) gw=$OFF_GW pid=$OFF_PID ;; local) gw=$LOCAL_GW pid=$LOCAL_PID ;; redis) gw=$REDIS_GW pid=$REDIS_PID ;; esac
      run "$gw" "$pid" "$CONNS" "${vars[@]}" >> "$WORK/$which.txt"
      run "$gw" "$pid" 1 "${vars[@]}" >> "$WORK/$which-1.txt"
    done
  done
  python3 - "$label" "$WORK" <<'PY'
import statistics, sys
label, work = sys.argv[1:3]
def med(path, i):
    return statistics.median(float(l.split()[i]) for l in open(path) if l.strip())
off_cpu, off_p50_1 = med(f"{work}/off.txt", 2), med(f"{work}/off-1.txt", 1)
for which in ("off", "local", "redis"):
    rps, p50, cpu, calls = (med(f"{work}/{which}.txt", i) for i in range(4))
    p50_1 = med(f"{work}/{which}-1.txt", 1)
    print(f"| {label} | {which} | {rps:.0f} | {p50:.2f} | {cpu:.0f} | {cpu / off_cpu:.3f}x | {p50_1:.3f} | {(p50_1 - off_p50_1) * 1000:.0f} | {calls:.2f} |")
PY
done
