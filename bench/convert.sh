#!/usr/bin/env bash
# Conversion benchmark: converted traffic against the same-format path, side by side in one
# run, on one gateway and one mock (telemetry off, so only conversion differs).
#
#   Claude client → Claude upstream (same format)  vs  Claude client → OpenAI Chat upstream
#   OpenAI client → OpenAI upstream (same format)  vs  OpenAI client → Gemini upstream
#
#   Responses client → Responses upstream (same format)  vs  Responses client (Codex) → Claude upstream
#
# and each converted row also against the upstream's own format relayed same-format (OpenAI
# client → OpenAI upstream, Gemini client → Gemini upstream, Claude client → Claude
# upstream): the same upstream answer, so the difference is the conversion alone;
# each non-streaming (with one tool, and with a Claude Code–like list of 20), as a 200-event
# text stream, and as a tool-call stream (arguments in 16 deltas); then the time between
# events a client sees in a paced stream (200 events, 5 ms apart), same format and converted;
# then the memory of 1,000 open converted streams against 1,000 same-format ones, each on a
# fresh gateway.
#
# Usage: bench/convert.sh [seconds-per-run] [connections]
# With PREV_BIN=path/to/an/older/aether, the script instead compares two builds: both
# gateways run at once on the one mock, and each row is measured ROUNDS times (default 3),
# the two builds back to back and in alternating order, so both share the machine's load of
# the moment; it prints each build's median and their ratio. PREV_ROWS picks the rows:
# `converted` (default) or `same` (each client's own format, relayed as it is).
# Needs: wrk, python3, a release build of aether.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-8}
CONNS=${2:-32}
THREADS=2
BIN=${AETHER_BIN:-target/release/aether}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
command -v wrk >/dev/null || { echo "install wrk" >&2; exit 1; }
[ -x "$BIN" ] || cargo build --release -p aether

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOCK=$(free_port); WORK=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; }

"$BIN" mock --listen "127.0.0.1:$MOCK" >/dev/null 2>&1 & MOCK_PID=$!; pids+=($MOCK_PID)
# A gateway (telemetry off) on a fresh port, from the binary $2 (default $BIN); echoes "port pid".
gateway() {
  local name=$1 bin=${2:-$BIN} port admin; port=$(free_port); admin=$(free_port)
  sed -e "s/127.0.0.1:9100/127.0.0.1:$MOCK/" -e "s/127.0.0.1:8080/127.0.0.1:$port/" \
      -e "s/127.0.0.1:9090/127.0.0.1:$admin/" -e "s/^threads = .*/threads = $THREADS/" \
      conf/examples/local-mock.toml > "$WORK/$name.toml"
  sed -i "s#^\[server\]#[server]\nupgrade_sock = \"$WORK/$name.sock\"\npid_file = \"$WORK/$name.pid\"#" "$WORK/$name.toml"
  printf '\n[telemetry]\nsink = "off"\n' >> "$WORK/$name.toml"
  RUST_LOG=warn "$bin" serve --config "$WORK/$name.toml" >/dev/null 2>&1 &
  local pid=$!; pids+=($pid)
  wait_port "$port"
  echo "$port $pid"
}
wait_port "$MOCK"
read -r GW GW_PID <<<"$(gateway main)"; pids+=("$GW_PID")

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# One wrk run: "req/s p50_ms gateway_cpu_us_per_request mock_cpu_us_per_request non2xx".
run() {
  local path=$1; shift
  local before mock_before; before=$(ticks "$GW_PID"); mock_before=$(ticks "$MOCK_PID")
  env "$@" wrk -t$THREADS -c$CONNS -d${DURATION}s --latency -s bench/convert.lua "http://127.0.0.1:$GW$path" > "$WORK/wrk.txt"
  local used=$(( $(ticks "$GW_PID") - before )) mock_used=$(( $(ticks "$MOCK_PID") - mock_before ))
  PYTHONPATH=bench python3 - "$WORK/wrk.txt" "$used" "$mock_used" "$(getconf CLK_TCK)" <<'PY'
import sys
from wrk_stats import parse
s = parse(sys.argv[1])
used, mock_used, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"{s.rps:.0f} {s.p50_ms:.2f} {used / hz * 1e6 / s.requests:.0f} {mock_used / hz * 1e6 / s.requests:.0f} {s.non2xx}")
PY
}

if [ -n "${PREV_BIN:-}" ]; then
  ROUNDS=${ROUNDS:-3}
  read -r PREV_GW PREV_PID <<<"$(gateway prev "$PREV_BIN")"; pids+=("$PREV_PID")
  NEW_GW=$GW; NEW_PID=$GW_PID
  # One run on one build: "req/s p50 gateway_cpu mock_cpu non2xx".
  on_build() {
    local which=$1; shift
    if [ "$which" = prev ]; then GW=$PREV_GW GW_PID=$PREV_PID; else GW=$NEW_GW GW_PID=$NEW_PID; fi
    run "$@"
  }
  echo "# bench/convert.sh $DURATION $CONNS, PREV_BIN=$PREV_BIN ROUNDS=$ROUNDS — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "${PREV_ROWS:-converted} rows; this build ($BIN) against the previous one, alternating. Medians of"
  echo "$ROUNDS runs each; the last column is this build's CPU per request over the previous build's"
  echo "(below 1: this build is cheaper)."
  echo
  echo "| client | traffic | upstream | previous req/s | this req/s | previous gateway CPU µs / req | this gateway CPU µs / req | this / previous, CPU |"
  echo "|---|---|---|---:|---:|---:|---:|---:|"
  for client in claude openai responses; do
    case $client in
      claude) path=/v1/messages; conv=mock-gpt; same=mock-claude ;;
      openai) path=/v1/chat/completions; conv=mock-gemini; same=mock-gpt ;;
      responses) path=/; conv=mock-claude; same=mock-responses ;;
    esac
    [ "${PREV_ROWS:-converted}" = same ] && conv=$same
    for traffic in "body:0:text:20:1" "body20tools:0:text:20:20" "stream200:1:text:200:1" "toolstream:1:tool_call:16:1"; do
      IFS=: read -r label stream scenario chunks tools <<<"$traffic"
      vars=(STREAM=$stream SCENARIO=$scenario CHUNKS=$chunks TOOLS=$tools CLIENT=$client MODEL=$conv)
      on_build prev $path "${vars[@]}" >/dev/null; on_build new $path "${vars[@]}" >/dev/null
      : > "$WORK/prev.txt"; : > "$WORK/new.txt"
      for round in $(seq "$ROUNDS"); do
        order="prev new"; [ $((round % 2)) -eq 0 ] && order="new prev"
        for which in $order; do on_build "$which" $path "${vars[@]}" >> "$WORK/$which.txt"; done
      done
      python3 - "$client" "$label" "$conv" "$WORK/prev.txt" "$WORK/new.txt" <<'PY'
import statistics, sys
client, label, conv, prev, new = sys.argv[1:6]
def cols(path):
    rows = [line.split() for line in open(path) if line.strip()]
    return statistics.median(float(r[0]) for r in rows), statistics.median(float(r[2]) for r in rows)
(p_rps, p_cpu), (n_rps, n_cpu) = cols(prev), cols(new)
print(f"| {client} | {label} | {conv} | {p_rps:.0f} | {n_rps:.0f} | {p_cpu:.0f} | {n_cpu:.0f} | {n_cpu / p_cpu:.2f}x |")
PY
    done
  done
  exit 0
fi

echo "# bench/convert.sh $DURATION $CONNS — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk -t$THREADS -c$CONNS -d${DURATION}s"
echo
echo "## Throughput, converted against same format"
echo
echo "Each converted row is measured beside two same-format rows: the client's own format (its"
echo "upstream another provider) and the upstream's own format (the same upstream answer, relayed"
echo "as it is). The mock shares the machine, and its OpenAI and Gemini answers cost it more CPU"
echo "than its Claude ones; the gateway's CPU per request is what a gateway whose upstream is"
echo "elsewhere is bound by."
echo
echo "| client | traffic | upstream | req/s | p50 ms | gateway CPU µs / request | mock CPU µs / request | non-2xx | converted / same, req/s | converted / same, gateway CPU |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
for client in claude openai responses; do
  case $client in
    claude) path=/v1/messages; same=mock-claude; conv=mock-gpt; upclient=openai; uppath=/v1/chat/completions ;;
    openai) path=/v1/chat/completions; same=mock-gpt; conv=mock-gemini; upclient=gemini; uppath=/ ;;
    responses) path=/; same=mock-responses; conv=mock-claude; upclient=claude; uppath=/v1/messages ;;
  esac
  for traffic in "body:0:text:20:1" "body20tools:0:text:20:20" "stream200:1:text:200:1" "toolstream:1:tool_call:16:1"; do
    IFS=: read -r label stream scenario chunks tools <<<"$traffic"
    vars=(STREAM=$stream SCENARIO=$scenario CHUNKS=$chunks TOOLS=$tools)
    # Warm-up, then the three back to back.
    run $path "${vars[@]}" CLIENT=$client MODEL=$same >/dev/null; run $path "${vars[@]}" CLIENT=$client MODEL=$conv >/dev/null
    run $uppath "${vars[@]}" CLIENT=$upclient MODEL=$conv >/dev/null
    read -r s_rps s_p50 s_cpu s_mock s_bad <<<"$(run $path "${vars[@]}" CLIENT=$client MODEL=$same)"
    read -r u_rps u_p50 u_cpu u_mock u_bad <<<"$(run $uppath "${vars[@]}" CLIENT=$upclient MODEL=$conv)"
    read -r c_rps c_p50 c_cpu c_mock c_bad <<<"$(run $path "${vars[@]}" CLIENT=$client MODEL=$conv)"
    ratios() { python3 -c "print(f'{$c_rps/$1:.2f}x | {$2/$c_cpu:.2f}x')"; }
    echo "| $client | $label | $same (same, client's format) | $s_rps | $s_p50 | $s_cpu | $s_mock | $s_bad | | |"
    echo "| $upclient | $label | $conv (same, upstream's format) | $u_rps | $u_p50 | $u_cpu | $u_mock | $u_bad | | |"
    echo "| $client | $label | $conv (converted) | $c_rps | $c_p50 | $c_cpu | $c_mock | $c_bad | **$(ratios "$s_rps" "$s_cpu" | sed 's/ | /** | **/')** |"
    echo "| | | ÷ upstream's format | | | | | | $(ratios "$u_rps" "$u_cpu") |"
  done
done
echo

echo "## Time between events a client sees (200 events, paced 5 ms apart by the mock, 5 streams each)"
echo
echo "| client | upstream | mean gap ms |"
echo "|---|---|---:|"
for pair in "claude:/v1/messages:mock-claude" "claude:/v1/messages:mock-gpt" "openai:/v1/chat/completions:mock-gpt" "openai:/v1/chat/completions:mock-gemini"; do
  IFS=: read -r client path model <<<"$pair"
  gap=$(python3 bench/stream-gap.py "http://127.0.0.1:$GW" "$path" "$client" "$model" 5 200 5)
  echo "| $client | $model | $gap |"
done
echo

echo "## Memory: 1,000 open streams, same format against converted (fresh gateways)"
echo
rss() { awk '/VmRSS/ {print int($2/1024)}' /proc/$1/status; }
for pair in "openai:mock-gpt" "openai:mock-gemini"; do
  IFS=: read -r client model <<<"$pair"
  read -r port pid <<<"$(gateway "hold-$model")"
  CLIENT=$client MODEL=$model STREAM=1 wrk -t1 -c8 -d1s -s bench/convert.lua "http://127.0.0.1:$port/v1/chat/completions" >/dev/null
  idle=$(rss "$pid"); peak=0
  CLIENT=$client MODEL=$model STREAM=1 SCENARIO=text CHUNKS=40 \
    wrk -t$THREADS -c1000 -d12s --timeout 30s -H "x-mock-interval-ms: 250" -s bench/convert.lua \
    "http://127.0.0.1:$port/v1/chat/completions" > "$WORK/hold.txt" &
  wrk_pid=$!
  for _ in $(seq 22); do sleep 0.5; r=$(rss "$pid"); [ "$r" -gt "$peak" ] && peak=$r; done
  wait $wrk_pid || true
  echo "- openai client, $model upstream: idle $idle MB, peak $peak MB with 1,000 streams open → $(( (peak - idle) * 1024 / 1000 )) KB per stream"
  kill "$pid" 2>/dev/null || true
done
