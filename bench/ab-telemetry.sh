#!/usr/bin/env bash
# A/B of usage recording: two gateways on the same mock, one writing usage records to
# SQLite and one with `[telemetry] sink = "off"`, measured alternately (off, on) ROUNDS
# times with small non-streaming requests; prints each run and the ratio of the means.
#
# It also prints what the usage writer itself costs: the CPU time of the telemetry writer
# thread and SQLite's worker threads in the `on` gateway, per record written (read from
# /proc and the admin port's `aether_telemetry_written_total`), which does not depend on
# how the two cores happened to be shared during a run; and whether the writer kept up: the
# largest queue depth and backlog seen (sampled every half second from the admin port), and
# the records dropped, spilled or failed.
#
# Usage: bench/ab-telemetry.sh [rounds] [seconds]
# Needs: wrk, a release build of aether.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-8}
BIN=${AETHER_BIN:-target/release/aether}
[ -x "$BIN" ] || cargo build --release -p aether

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOCK=$(free_port); WORK=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN" mock --listen "127.0.0.1:$MOCK" >/dev/null 2>&1 & pids+=($!)
declare -A PORT ADMIN PID
for variant in on off; do
  PORT[$variant]=$(free_port); ADMIN[$variant]=$(free_port)
  sed -e "s/127.0.0.1:9100/127.0.0.1:$MOCK/" -e "s/127.0.0.1:8080/127.0.0.1:${PORT[$variant]}/" \
      -e "s/127.0.0.1:9090/127.0.0.1:${ADMIN[$variant]}/" conf/examples/local-mock.toml > "$WORK/$variant.toml"
  sed -i "s#^\[server\]#[server]\nupgrade_sock = \"$WORK/$variant.sock\"\npid_file = \"$WORK/$variant.pid\"#" "$WORK/$variant.toml"
  if [ "$variant" = on ]; then
    printf '\n[telemetry]\nurl = "sqlite://%s/usage.db"\n' "$WORK" >> "$WORK/$variant.toml"
  else
    printf '\n[telemetry]\nsink = "off"\n' >> "$WORK/$variant.toml"
  fi
  RUST_LOG=warn "$BIN" serve --config "$WORK/$variant.toml" >/dev/null 2>&1 & pids+=($!); PID[$variant]=$!
done
for port in $MOCK "${PORT[on]}" "${PORT[off]}"; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
for variant in on off; do wrk -t1 -c8 -d1s -s bench/chat.lua "http://127.0.0.1:${PORT[$variant]}/v1/chat/completions" >/dev/null; done

# CPU ticks of the writer's threads (the writer task's runtime thread, SQLite's workers).
writer_ticks() {
  local total=0 task
  for task in /proc/"${PID[on]}"/task/*; do
    case "$(cat "$task/comm" 2>/dev/null)" in
      "BG telemetry wr"*|sqlx-sqlite-wor*)
        # utime and stime: fields 14 and 15, counted after the parenthesised name.
        total=$((total + $(sed 's/.*) //' "$task/stat" | awk '{print $12 + $13}'))) ;;
    esac
  done
  echo "$total"
}
written() { curl -s "http://127.0.0.1:${ADMIN[on]}/metrics" | awk '/^aether_telemetry_written_total/ {print $2}'; }
TICKS0=$(writer_ticks); WRITTEN0=$(written)
# The writer's queue and backlog, sampled while the rounds run.
metric() { curl -s "http://127.0.0.1:${ADMIN[on]}/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
( while :; do echo "$(metric aether_telemetry_queue_depth) $(metric aether_telemetry_backlog)"; sleep 0.5; done ) \
  > "$WORK/samples" 2>/dev/null & pids+=($!)

declare -A SUM=([on]=0 [off]=0) RPS
RATIOS=""
for round in $(seq "$ROUNDS"); do
  for variant in off on; do
    rps=$(wrk -t2 -c64 -d"${SECONDS_PER_RUN}"s -s bench/chat.lua "http://127.0.0.1:${PORT[$variant]}/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')
    echo "round $round telemetry $variant: $rps req/s"
    SUM[$variant]=$(python3 -c "print(${SUM[$variant]} + $rps)")
    RPS[$variant]=$rps
  done
  RATIOS="$RATIOS $(python3 -c "print(${RPS[on]} / ${RPS[off]})")"
done
python3 -c "on, off = ${SUM[on]} / $ROUNDS, ${SUM[off]} / $ROUNDS; print(f'mean off {off:.0f} req/s, on {on:.0f} req/s, on/off = {on/off:.3f}x')"
# Each round's on/off (the two runs of a round are back to back, so they share the machine's
# load of the moment), and their median, which one disturbed round does not move.
python3 -c "import statistics; r = [float(x) for x in '$RATIOS'.split()]; print('per round on/off: ' + ' '.join(f'{x:.3f}' for x in r) + f'; median {statistics.median(r):.3f}x')"
sleep 1
TICKS1=$(writer_ticks); WRITTEN1=$(written)
python3 -c "ticks, rows = $TICKS1 - $TICKS0, $WRITTEN1 - $WRITTEN0; hz = $(getconf CLK_TCK); print(f'usage writer: {rows} records, {ticks / hz:.2f} s of CPU, {ticks / hz / max(rows, 1) * 1e6:.2f} us per record')"
python3 - "$WORK/samples" "$(metric aether_telemetry_dropped_total)" "$(metric aether_telemetry_spilled_total)" \
  "$(metric aether_telemetry_write_errors_total)" <<'PY'
import sys
rows = [[float(x) for x in l.split()] for l in open(sys.argv[1]) if len(l.split()) == 2]
half = len(rows) // 2
peak = lambda rs, i: max((r[i] for r in rs), default=0)
print(f"writer kept up: largest queue depth {peak(rows[:half], 0):.0f} in the first half of the rounds, "
      f"{peak(rows[half:], 0):.0f} in the second; largest backlog {peak(rows[:half], 1):.0f} and "
      f"{peak(rows[half:], 1):.0f}; at the end {rows[-1][0]:.0f} and {rows[-1][1]:.0f} ({len(rows)} samples); "
      f"dropped {sys.argv[2]}, spilled {sys.argv[3]}, write errors {sys.argv[4]}")
PY
