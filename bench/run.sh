#!/usr/bin/env bash
# Load benchmark: the mock upstream directly, nginx as a plain reverse proxy, and Aether,
# measured side by side in one run, for small non-streaming requests and SSE streams; then
# Aether's memory with 1,000 concurrent open streams.
#
# Usage: bench/run.sh [seconds-per-run] [connections] [sections: "throughput memory"]
# With PREV_BIN=path/to/an/older/aether, that build is measured in the same run too (same
# config, telemetry on), for a side-by-side comparison with the previous state.
# Needs: wrk and nginx (Debian packages `wrk`, `nginx-light`), a release build of aether.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-64}
SECTIONS=${3:-"throughput memory"}
THREADS=2                     # Aether threads = nginx workers = wrk threads
BIN=${AETHER_BIN:-target/release/aether}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # 1,000 streams need ~2,000 descriptors

command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "install wrk and nginx-light" >&2; exit 1; }
[ -x "$BIN" ] || cargo build --release -p aether
# Pingora's own ProxyHttp pass-through, as a reference for the cost of Pingora's HTTP/1 stack.
REF_TARGET=${CARGO_TARGET_DIR:-$PWD/target}
(cd bench/pingora-ref && CARGO_TARGET_DIR="$REF_TARGET" cargo build --release -q)
REF="$REF_TARGET/release/pingora-ref"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOCK=$(free_port); GW=$(free_port); ADMIN=$(free_port); NGX=$(free_port); PREF=$(free_port)
GW_OFF=$(free_port); ADMIN_OFF=$(free_port); GW_PREV=$(free_port); ADMIN_PREV=$(free_port)
WORK=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  nginx -c "$WORK/nginx.conf" -s stop 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" mock --listen "127.0.0.1:$MOCK" >/dev/null 2>&1 & MOCK_PID=$!; pids+=($MOCK_PID)
sed -e "s/127.0.0.1:9100/127.0.0.1:$MOCK/" -e "s/127.0.0.1:8080/127.0.0.1:$GW/" \
    -e "s/127.0.0.1:9090/127.0.0.1:$ADMIN/" -e "s/^threads = .*/threads = $THREADS/" \
    conf/examples/local-mock.toml > "$WORK/aether.toml"
sed -i "s#^\[server\]#[server]\nupgrade_sock = \"$WORK/upgrade.sock\"\npid_file = \"$WORK/aether.pid\"#" "$WORK/aether.toml"
printf '\n[telemetry]\nurl = "sqlite://%s/usage.db"\n' "$WORK" >> "$WORK/aether.toml"
RUST_LOG=warn "$BIN" serve --config "$WORK/aether.toml" >/dev/null 2>&1 & AETHER_PID=$!; pids+=($AETHER_PID)
# The same gateway with telemetry off, to measure what recording usage costs.
sed -e "s/127.0.0.1:$GW/127.0.0.1:$GW_OFF/" -e "s/127.0.0.1:$ADMIN/127.0.0.1:$ADMIN_OFF/" \
    -e "s#$WORK/upgrade.sock#$WORK/upgrade-off.sock#" -e "s#$WORK/aether.pid#$WORK/aether-off.pid#" \
    -e 's/^url = "sqlite.*/sink = "off"/' "$WORK/aether.toml" > "$WORK/aether-off.toml"
RUST_LOG=warn "$BIN" serve --config "$WORK/aether-off.toml" >/dev/null 2>&1 & OFF_PID=$!; pids+=($OFF_PID)
PREV_PID=""
if [ -n "${PREV_BIN:-}" ]; then
  # An older build may not know newer config sections: give it the plain example config.
  sed -e "s/127.0.0.1:9100/127.0.0.1:$MOCK/" -e "s/127.0.0.1:8080/127.0.0.1:$GW_PREV/" \
      -e "s/127.0.0.1:9090/127.0.0.1:$ADMIN_PREV/" -e "s/^threads = .*/threads = $THREADS/" \
      conf/examples/local-mock.toml > "$WORK/aether-prev.toml"
  sed -i "s#^\[server\]#[server]\nupgrade_sock = \"$WORK/upgrade-prev.sock\"\npid_file = \"$WORK/aether-prev.pid\"#" "$WORK/aether-prev.toml"
  (cd "$WORK" && RUST_LOG=warn "$PREV_BIN" serve --config "$WORK/aether-prev.toml" >/dev/null 2>&1) & PREV_PID=$!; pids+=($PREV_PID)
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$GW_PREV) 2>/dev/null && break; sleep 0.1; done
  PREV_PID=$(pgrep -n -f "$WORK/aether-prev.toml"); pids+=($PREV_PID)
fi
sed -e "s#__WORKERS__#$THREADS#" -e "s#__DIR__#$WORK#g" -e "s#__MOCK_PORT__#$MOCK#" -e "s#__PORT__#$NGX#" \
    bench/nginx.conf.template > "$WORK/nginx.conf"
nginx -c "$WORK/nginx.conf"
THREADS=$THREADS "$REF" "127.0.0.1:$PREF" "127.0.0.1:$MOCK" >/dev/null 2>&1 & REF_PID=$!; pids+=($REF_PID)
for port in $MOCK $GW $NGX $PREF $GW_OFF; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

# CPU time (clock ticks) used so far by a set of processes.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }

# wrk output → "rps p50_ms p99_ms errors cpu_us_per_request" (CPU of the proxy processes given)
measure() {
  local url=$1 script=$2; shift 2
  local before; before=$(ticks "$@")
  wrk -t$THREADS -c$CONNS -d${DURATION}s --latency -s "bench/$script" "$url/v1/chat/completions" > "$WORK/wrk.txt"
  local used=$(( $(ticks "$@") - before ))
  PYTHONPATH=bench python3 - "$WORK/wrk.txt" "$used" "$(getconf CLK_TCK)" <<'PY'
import sys
from wrk_stats import parse
s = parse(sys.argv[1])
used, hz = int(sys.argv[2]), int(sys.argv[3])
sock = "+" + s.socket_errors if s.socket_errors else ""
print(f"{s.rps:.0f} {s.p50_ms:.2f} {s.p99_ms:.2f} {s.non2xx}{sock} {used / hz * 1e6 / s.requests:.0f}")
PY
}

echo "# bench/run.sh $DURATION $CONNS — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk -t$THREADS -c$CONNS -d${DURATION}s"
echo
if [[ $SECTIONS == *memory* ]]; then
  # Memory with 1,000 concurrent open streams (each ~10 s long), first, on a fresh process.
  rss() { awk '/VmRSS/ {print int($2/1024)}' /proc/$1/status; }
  idle=$(rss $AETHER_PID)
  wrk -t$THREADS -c1000 -d12s --timeout 30s -s bench/stream-hold.lua "http://127.0.0.1:$GW/v1/chat/completions" > "$WORK/hold.txt" &
  WRK=$!
  peak=0; open=0
  for _ in $(seq 22); do
    sleep 0.5
    r=$(rss $AETHER_PID); [ "$r" -gt "$peak" ] && peak=$r
    o=$(ss -Htn state established "( sport = :$GW )" | wc -l); [ "$o" -gt "$open" ] && open=$o
  done
  wait $WRK || true
  echo "## 1,000 concurrent streams"
  echo
  echo "Aether RSS: idle $idle MB, peak $peak MB with $open client connections open (40 events × 250 ms per stream)."
  grep -E "requests in|Socket errors|Non-2xx" "$WORK/hold.txt" | sed 's/^/    /'
  echo
fi

for script in chat.lua chat-stream.lua; do
  [[ $SECTIONS == *throughput* ]] || break
  # Warm-up so every target has its pools and caches filled.
  for port in $MOCK $NGX $PREF $GW_OFF $GW ${PREV_PID:+$GW_PREV}; do wrk -t1 -c8 -d1s -s "bench/$script" "http://127.0.0.1:$port/v1/chat/completions" >/dev/null; done
  NGINX_WORKERS=$(pgrep -P "$(cat "$WORK/nginx.pid")" | tr '\n' ' ')
  read -r d_rps d_p50 d_p99 d_err d_cpu <<<"$(measure "http://127.0.0.1:$MOCK" $script $MOCK_PID)"
  # shellcheck disable=SC2086 # one pid per worker
  read -r n_rps n_p50 n_p99 n_err n_cpu <<<"$(measure "http://127.0.0.1:$NGX" $script $NGINX_WORKERS)"
  read -r p_rps p_p50 p_p99 p_err p_cpu <<<"$(measure "http://127.0.0.1:$PREF" $script $REF_PID)"
  read -r o_rps o_p50 o_p99 o_err o_cpu <<<"$(measure "http://127.0.0.1:$GW_OFF" $script $OFF_PID)"
  read -r a_rps a_p50 a_p99 a_err a_cpu <<<"$(measure "http://127.0.0.1:$GW" $script $AETHER_PID)"
  if [ -n "$PREV_PID" ]; then
    read -r v_rps v_p50 v_p99 v_err v_cpu <<<"$(measure "http://127.0.0.1:$GW_PREV" $script $PREV_PID)"
  fi
  echo "## $script"
  echo
  echo "| target | req/s | p50 ms | p99 ms | non-2xx | CPU µs / request |"
  echo "|---|---:|---:|---:|---:|---:|"
  echo "| mock directly | $d_rps | $d_p50 | $d_p99 | $d_err | $d_cpu (mock) |"
  echo "| nginx (reverse proxy) | $n_rps | $n_p50 | $n_p99 | $n_err | $n_cpu |"
  echo "| Pingora ProxyHttp pass-through (reference) | $p_rps | $p_p50 | $p_p99 | $p_err | $p_cpu |"
  echo "| Aether, telemetry off | $o_rps | $o_p50 | $o_p99 | $o_err | $o_cpu |"
  echo "| Aether (telemetry on, SQLite) | $a_rps | $a_p50 | $a_p99 | $a_err | $a_cpu |"
  [ -n "$PREV_PID" ] && echo "| Aether, previous build (\`$PREV_BIN\`) | $v_rps | $v_p50 | $v_p99 | $v_err | $v_cpu |"
  echo
  python3 -c "print(f'Aether / nginx = {$a_rps/$n_rps:.2f}x req/s; Aether / Pingora ProxyHttp = {$a_rps/$p_rps:.2f}x; Aether / direct = {$a_rps/$d_rps:.2f}x; added p50 vs direct = {$a_p50-$d_p50:.2f} ms; telemetry on / off = {$a_rps/$o_rps:.2f}x')"
  echo
done

if [[ $SECTIONS == *throughput* ]]; then
  # Did the usage writer keep up? Its queue, drops and spills after the load above.
  echo "Usage writer after the runs above (from /metrics):"
  echo
  curl -s "http://127.0.0.1:$ADMIN/metrics" | grep -E "^aether_(telemetry_|requests_in_flight)" | sed 's/^/    /'
  echo
fi
