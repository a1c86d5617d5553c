#!/usr/bin/env bash
# Web UI benchmark of the release binary on this machine:
#   1. server time for the trace page (GET /traces/{id}, HTML with the step outline) of a
#      1,000-step and a 10,000-step trace, timed by curl from request to last byte;
#   2. time until the 10,000-step page is interactive in headless Chromium (navigation start to
#      the page's `data-ready` mark: tree and timeline drawn, keyboard live).
# Usage: bench/ui_pages.sh [ROUNDS]   (default 20). Needs tests/browser's playwright-core
# (`npm ci --prefix tests/browser`) and /usr/bin/chromium. Prints a Markdown summary.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
port=${BENCH_PORT:-18090}
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

"$gen" --steps 1000 --bytes 2000000 --seed 3 > "$work/1k.json"
"$gen" --steps 10000 --bytes 9000000 --seed 4 > "$work/10k.json"

"$bin" serve --bind "127.0.0.1:$port" --data-dir "$work/data" \
  --max-steps 10000 --max-trace-bytes 10485760 >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -fs "$url/health" >/dev/null 2>&1 && break; sleep 0.1; done

# A browser session (the first account) and an API token for the uploads.
curl -fs -c "$work/jar" -o /dev/null \
  --data-urlencode 'email=bench@example.com' --data-urlencode 'password=violet-harbour-kettle-42' \
  "$url/register"
token=$(curl -fs -H 'content-type: application/json' \
  -d '{"email": "bench@example.com", "password": "violet-harbour-kettle-42"}' \
  "$url/api/v1/auth/login" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
upload() {
  curl -fs -H 'content-type: application/json' -H "Authorization: Bearer $token" \
    --data-binary "@$1" "$url/api/v1/traces" | sed -E 's/.*"id":"([^"]+)".*/\1/'
}
id1k=$(upload "$work/1k.json")
id10k=$(upload "$work/10k.json")

page_times() {
  : > "$work/t"
  curl -fs -b "$work/jar" -o /dev/null "$url/traces/$1"   # warm-up
  for _ in $(seq "$rounds"); do
    curl -fs -b "$work/jar" -o /dev/null -w '%{time_total} %{size_download}\n' "$url/traces/$1" >> "$work/t"
  done
  sort -n "$work/t" | awk '{a[NR]=$1; s=$2} END {printf "%.1f %.1f %d\n", a[int((NR-1)*0.5)+1]*1000, a[int((NR-1)*0.9)+1]*1000, s}'
}
read -r m1 p1 s1 < <(page_times "$id1k")
read -r m10 p10 s10 < <(page_times "$id10k")

cookie=$(awk '$6 == "agenttrace_session" {print $7}' "$work/jar")
tti=$(AGENTTRACE_URL="$url" TRACE_ID="$id10k" SESSION="$cookie" ROUNDS=5 \
  node bench/ui_tti.mjs)

echo "| measure | value |"
echo "|---|---|"
echo "| trace page, 1,000 steps: server time median / p90 ($rounds rounds) | $m1 ms / $p1 ms ($s1 bytes of HTML) |"
echo "| trace page, 10,000 steps: server time median / p90 | $m10 ms / $p10 ms ($s10 bytes of HTML) |"
echo "| 10,000-step page interactive in headless Chromium, median of 5 (min / max) | $tti |"
