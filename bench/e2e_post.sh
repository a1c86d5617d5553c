#!/usr/bin/env bash
# End-to-end ingest benchmark of the release binary on this machine:
#   1. latency of POST /api/v1/traces with a 5 MB / 1000-step trace, from request to stored (201);
#   2. peak resident memory of a fresh server that takes a 10 MB upload (the body limit).
# Usage: bench/e2e_post.sh [ROUNDS]   (default 30). Prints a Markdown summary.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-30}
port=${BENCH_PORT:-18080}
url="http://127.0.0.1:$port"

cargo build --quiet --release -p agenttrace --bin agenttrace
cargo build --quiet --release -p agenttrace-core --example generate
bin=target/release/agenttrace
gen=target/release/examples/generate
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$gen" --steps 1000 --bytes 5000000 --seed 1 > "$work/5mb.json"
"$gen" --steps 2000 --bytes 10000000 --seed 2 > "$work/10mb.json"

start_server() {
  "$bin" serve --bind "127.0.0.1:$port" --data-dir "$work/data-$1" \
    --max-trace-bytes 10485760 --max-steps 10000 >/dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    if curl -fs "$url/health" >/dev/null 2>&1; then
      sign_in
      return 0
    fi
    sleep 0.1
  done
  echo "server did not start" >&2
  exit 1
}
# The first account of each fresh server, and its access token for the uploads.
sign_in() {
  local credentials='{"email": "bench@example.com", "password": "violet-harbour-kettle-42"}'
  curl -fs -H 'content-type: application/json' -d "$credentials" "$url/api/v1/auth/register" >/dev/null
  token=$(curl -fs -H 'content-type: application/json' -d "$credentials" "$url/api/v1/auth/login" \
    | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
}
stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
post() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H 'content-type: application/json' \
    -H "Authorization: Bearer $token" --data-binary "@$1" "$url/api/v1/traces"
}
kib() { awk '/^'"$2"':/ {print $2}' "/proc/$1/status"; }

# 1. Latency.
start_server latency
post "$work/5mb.json" >/dev/null   # warm-up
: > "$work/times"
for _ in $(seq "$rounds"); do
  read -r code seconds < <(post "$work/5mb.json")
  [ "$code" = 201 ] || { echo "upload failed with $code" >&2; exit 1; }
  echo "$seconds" >> "$work/times"
done
stop_server
sort -n "$work/times" > "$work/sorted"
pick() { awk -v q="$1" '{a[NR]=$1} END {i=int((NR-1)*q)+1; printf "%.1f", a[i]*1000}' "$work/sorted"; }

# 2. Memory.
start_server memory
post "$work/5mb.json" >/dev/null
idle=$(kib "$server_pid" VmRSS)
read -r code _ < <(post "$work/10mb.json")
[ "$code" = 201 ] || { echo "10 MB upload failed with $code" >&2; exit 1; }
peak=$(kib "$server_pid" VmHWM)
stop_server

size5=$(stat -c %s "$work/5mb.json")
size10=$(stat -c %s "$work/10mb.json")
echo "| measure | value |"
echo "|---|---|"
echo "| POST ${size5}-byte / 1000-step trace, median ($rounds rounds) | $(pick 0.5) ms |"
echo "| same, p90 | $(pick 0.9) ms |"
echo "| same, min / max | $(pick 0) ms / $(pick 1) ms |"
echo "| resident memory after a 5 MB upload | $((idle / 1024)) MiB |"
echo "| peak resident memory after a ${size10}-byte upload | $((peak / 1024)) MiB |"
awk -v p="$peak" -v i="$idle" -v s="$size10" 'BEGIN {printf "| peak growth over idle / upload size | %.1fx |\n", (p-i)*1024/s}'
