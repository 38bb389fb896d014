#!/usr/bin/env bash
# Soak: STREAMS open streams held for MINUTES minutes (each stream a mock answer of one event
# a second that lasts the whole soak), with the gateway's RSS and open file descriptors
# sampled at the start (once every stream is open), the middle and the end, and the events
# the streams delivered. Flat is the target: memory and descriptors that only grow are a
# leak. (Streams that all end together and restart at once are a burst test, not a soak:
# that is `bench/run.sh`'s memory section and issue #22.)
#
# The upstream leg is HTTP/2 (h2c to the mock, 128 streams per connection), so 10,000
# streams fit the gateway's descriptor limit with their client connections alone.
#
# Usage: bench/soak.sh [streams] [minutes]     (default 10000 10)
# Needs: wrk, a release build of aether.
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${1:-10000}
MINUTES=${2:-10}
BIN=${AETHER_BIN:-target/release/aether}
[ -x "$BIN" ] || cargo build --release -p aether
command -v wrk >/dev/null || { echo "install wrk" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; }
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
streams() { ss -Htn state established "( sport = :$1 )" | wc -l; }
MOCK=$(free_port); PORT=$(free_port); ADMIN=$(free_port); WORK=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
"$BIN" mock --listen "127.0.0.1:$MOCK" >/dev/null 2>&1 & pids+=($!)
sed -e "s/127.0.0.1:9100/127.0.0.1:$MOCK/" -e "s/127.0.0.1:8080/127.0.0.1:$PORT/" \
    -e "s/127.0.0.1:9090/127.0.0.1:$ADMIN/" -e 's/^format = "openai-chat"/format = "openai-chat"\nhttp = "http2"/' \
    conf/examples/local-mock.toml > "$WORK/aether.toml"
sed -i "s#^\[server\]#[server]\nupgrade_sock = \"$WORK/u.sock\"\npid_file = \"$WORK/p.pid\"#" "$WORK/aether.toml"
printf '\n[telemetry]\nurl = "sqlite://%s/usage.db"\n' "$WORK" >> "$WORK/aether.toml"
RUST_LOG=warn "$BIN" serve --config "$WORK/aether.toml" >"$WORK/gateway.log" 2>&1 & GW=$!; pids+=($GW)
wait_port "$MOCK"; wait_port "$PORT"
sleep 5
IDLE_RSS=$(rss "$GW"); IDLE_FDS=$(fds "$GW")
# Each stream: one event a second, for longer than the soak.
TOTAL=$((MINUTES * 60))
cat > "$WORK/soak.lua" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer sk-aether-demo"
wrk.headers["x-mock-chunks"] = "$((TOTAL + 60))"
wrk.headers["x-mock-interval-ms"] = "1000"
wrk.body = '{"model":"mock-gpt","stream":true,"messages":[{"role":"user","content":"Tell me a long story."}]}'
LUA
wrk -t2 -c"$STREAMS" -d"${TOTAL}s" --timeout 120s -s "$WORK/soak.lua" "http://127.0.0.1:$PORT/v1/chat/completions" > "$WORK/wrk.txt" 2>&1 &
WRK=$!; pids+=($WRK)
metric() { curl -s "http://127.0.0.1:$ADMIN/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
sample() { echo "| $1 | $(streams "$PORT") | $(metric aether_requests_in_flight) | $(rss "$GW") | $(fds "$GW") |"; }
echo "# bench/soak.sh $STREAMS $MINUTES — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo
echo "Idle before the soak: $IDLE_RSS MB RSS, $IDLE_FDS open descriptors."
echo
echo "| when | client connections | requests in flight (gateway) | gateway RSS MB | gateway open descriptors |"
echo "|---|---:|---:|---:|---:|"
sleep 60; sample "start (1 min)"
sleep $((TOTAL / 2 - 60)); sample "middle ($((MINUTES / 2)) min)"
sleep $((TOTAL / 2 - 15)); sample "end ($MINUTES min)"
wait "$WRK" || true
sleep 5; sample "after (streams closed)"
echo
grep -E "requests in|Non-2xx|Socket errors" "$WORK/wrk.txt" | sed 's/^/    /'
