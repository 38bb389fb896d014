#!/usr/bin/env bash
# Aether's memory: RSS at idle (20 s after it starts listening, once jemalloc has returned
# what start-up freed) and at the peak of 1,000 concurrent open streams (40 events 250 ms
# apart each, `bench/stream-hold.lua`), on a fresh gateway with usage records in SQLite,
# and how long it took to start listening. Each build's first start compiles the plugins
# into an empty cache directory; the current build is then restarted on that cache. With
# PREV_BIN set, the previous build is measured first, for a side-by-side.
#
# Usage: bench/memory.sh        Needs: wrk, a release build of aether.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${AETHER_BIN:-target/release/aether}
[ -x "$BIN" ] || cargo build --release -p aether
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # 1,000 streams need ~2,000 descriptors

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; }
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
MOCK=$(free_port); WORK=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
"$BIN" mock --listen "127.0.0.1:$MOCK" >/dev/null 2>&1 & pids+=($!)
wait_port "$MOCK"

measure() {
  local label=$1 bin=$2 cache=$3 port admin pid idle peak=0 open=0 started
  port=$(free_port); admin=$(free_port)
  sed -e "s/127.0.0.1:9100/127.0.0.1:$MOCK/" -e "s/127.0.0.1:8080/127.0.0.1:$port/" \
      -e "s/127.0.0.1:9090/127.0.0.1:$admin/" conf/examples/local-mock.toml > "$WORK/$label.toml"
  sed -i "s#^\[server\]#[server]\nupgrade_sock = \"$WORK/$label.sock\"\npid_file = \"$WORK/$label.pid\"#" "$WORK/$label.toml"
  printf '\n[telemetry]\nurl = "sqlite://%s/%s.db"\n[plugins]\ncache_dir = "%s"\n' "$WORK" "$label" "$WORK/$cache" >> "$WORK/$label.toml"
  started=$(date +%s.%N)
  RUST_LOG=warn "$bin" serve --config "$WORK/$label.toml" >/dev/null 2>&1 & pid=$!; pids+=($pid)
  wait_port "$port"
  started=$(python3 -c "print(f'{$(date +%s.%N) - $started:.2f}')")
  sleep 20
  idle=$(rss "$pid")
  wrk -t2 -c1000 -d12s --timeout 30s -s bench/stream-hold.lua "http://127.0.0.1:$port/v1/chat/completions" > "$WORK/hold.txt" &
  local wrk_pid=$!
  for _ in $(seq 22); do
    sleep 0.5
    local r o
    r=$(rss "$pid"); [ "$r" -gt "$peak" ] && peak=$r
    o=$(ss -Htn state established "( sport = :$port )" | wc -l); [ "$o" -gt "$open" ] && open=$o
  done
  wait "$wrk_pid" || true
  kill "$pid"
  echo "$label: listening after $started s; idle $idle MB, peak $peak MB with $open client connections open → $(( (peak - idle) * 1024 / 1000 )) KB per stream"
}
[ -n "${PREV_BIN:-}" ] && measure previous "$PREV_BIN" cache-previous
measure current "$BIN" cache-current
measure current-restarted "$BIN" cache-current
