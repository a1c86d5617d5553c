#!/usr/bin/env bash
# OTLP protobuf ingestion on this machine: BATCHES requests of 512 spans (as SDKs send them),
# spread over traces of 64 spans, posted to /v1/traces by two clients at once, timed until the
# last answer (each answer comes after its spans are committed, so they are then queryable);
# then the server's peak resident memory.
# Usage: bench/otlp_ingest.sh [BATCHES]  (default 100). Needs tests/clients/.venv.
set -euo pipefail
cd "$(dirname "$0")/.."
batches=${1:-100}
port=${BENCH_PORT:-18095}
url="http://127.0.0.1:$port"
python=tests/clients/.venv/bin/python

cargo build --quiet --release -p agenttrace --bin agenttrace
bin=target/release/agenttrace
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/batches"
"$python" bench/otlp_batches.py "$work/batches" "$batches" 512 64
bytes=$(du -sb "$work/batches" | cut -f1)

"$bin" serve --bind "127.0.0.1:$port" --data-dir "$work/data" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -fs "$url/health" >/dev/null 2>&1 && break; sleep 0.1; done
credentials='{"email": "bench@example.com", "password": "violet-harbour-kettle-42"}'
curl -fs -H 'content-type: application/json' -d "$credentials" "$url/api/v1/auth/register" >/dev/null
token=$(curl -fs -H 'content-type: application/json' -d "$credentials" "$url/api/v1/auth/login" \
  | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
project=$(curl -fs -H "Authorization: Bearer $token" "$url/api/v1/me" \
  | sed -E 's/.*"id":"([^"]+)","name":"[^"]*","role":"owner","personal":true.*/\1/')
key=$(curl -fs -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name": "bench", "scope": "ingest"}' "$url/api/v1/projects/$project/api-keys" \
  | sed -E 's/.*"key":"([^"]+)".*/\1/')
idle=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")

start=$(date +%s.%N)
ls "$work/batches"/*.pb | xargs -P 2 -I{} curl -fs -o /dev/null -H "Authorization: Bearer $key" \
  -H 'content-type: application/x-protobuf' --data-binary @{} "$url/v1/traces"
end=$(date +%s.%N)
peak=$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")
stored=$(curl -fs "$url/metrics" | awk '/^agenttrace_steps_ingested_total/ {print $2}')

spans=$((batches * 512))
awk -v s="$spans" -v st="$stored" -v a="$start" -v b="$end" -v by="$bytes" -v i="$idle" -v p="$peak" 'BEGIN {
  t = b - a
  printf "| measure | value |\n|---|---|\n"
  printf "| %d spans in %d requests of 512 (%.1f MB of protobuf), 2 clients | %.2f s |\n", s, s/512, by/1e6, t
  printf "| spans stored per second | %.0f |\n", st / t
  printf "| spans stored (from /metrics) | %d |\n", st
  printf "| resident memory idle / peak | %.0f / %.0f MiB |\n", i/1024, p/1024
}'
