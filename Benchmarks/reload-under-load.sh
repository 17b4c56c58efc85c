#!/usr/bin/env bash
# Reload under load (README "Tests, lab and benchmarks"): dnsperf sends a steady query
# stream to anydns serving a 100,000-record zone while the zone's serial is bumped and SIGHUP
# sent every two seconds. Prints a table: queries sent/answered/lost, SERVFAILs, reloads done,
# worst latency. A reload must lose no query and return no SERVFAIL.
#
#   Benchmarks/reload-under-load.sh [ANYDNS_BIN]     (default .build/release/anydns)
# Knobs: NAMES (100000 hosts → ~115k records), QPS (20000), SECONDS_RUN (20), RELOAD_EVERY (2).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${ANYDNS_BIN:-.build/release/anydns}}
NAMES=${NAMES:-100000}
QPS=${QPS:-20000}
SECONDS_RUN=${SECONDS_RUN:-20}
RELOAD_EVERY=${RELOAD_EVERY:-2}
command -v dnsperf >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq dnsperf >/dev/null; }
command -v dnsperf >/dev/null || { echo "dnsperf missing: apt-get install dnsperf" >&2; exit 1; }
[ -x "$BIN" ] || { echo "no anydns binary at $BIN (swift build -c release)" >&2; exit 1; }

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
python3 Benchmarks/gen_zone.py load.test. "$NAMES" "$work/load.test.zone" "$work/queries" --serial 1
records=$(grep -vc '^\$' "$work/load.test.zone")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
http=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --listen "127.0.0.1:$port" --zone "load.test.=$work/load.test.zone" --http-port "$http" \
    --log-level notice 2>"$work/anydns.log" &
server=$!
for _ in $(seq 1 600); do
    dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" load.test. SOA >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$work/anydns.log"; exit 1; }
    sleep 0.1
done

dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries" -l "$SECONDS_RUN" -Q "$QPS" -c 4 -t 2 \
    >"$work/dnsperf.out" 2>&1 &
perf=$!
reloads=0
serial=1
while kill -0 "$perf" 2>/dev/null; do
    sleep "$RELOAD_EVERY"
    kill -0 "$perf" 2>/dev/null || break
    serial=$((serial + 1))
    sed -i "s/hostmaster [0-9]* /hostmaster $serial /" "$work/load.test.zone"
    kill -HUP "$server"
    reloads=$((reloads + 1))
done
wait "$perf" || true
# Wait for the last reload to be served before reading the serial.
for _ in $(seq 1 100); do
    served=$(dig +short @127.0.0.1 -p "$port" load.test. SOA | awk '{print $3}')
    [ "$served" = "$serial" ] && break
    sleep 0.1
done

sent=$(awk '/Queries sent:/ {print $3}' "$work/dnsperf.out")
completed=$(awk '/Queries completed:/ {print $3}' "$work/dnsperf.out")
lost=$(awk '/Queries lost:/ {print $3}' "$work/dnsperf.out")
servfail=$(grep -o 'SERVFAIL [0-9]*' "$work/dnsperf.out" | awk '{print $2}' || true)
codes=$(grep 'Response codes:' "$work/dnsperf.out" | sed 's/^ *Response codes: *//')
maxlat=$(awk '/Average Latency/ {for (i=1;i<=NF;i++) if ($i=="max") print $(i+1)}' "$work/dnsperf.out" | tr -d ',)')
qps=$(awk '/Queries per second:/ {print $4}' "$work/dnsperf.out")
done_reloads=$(grep -c "reloaded" "$work/anydns.log" || true)

printf '\nReload under load: %s records, dnsperf -Q %s for %s s, SIGHUP every %s s\n' \
    "$records" "$QPS" "$SECONDS_RUN" "$RELOAD_EVERY"
printf '| %-22s | %-40s |\n' "measure" "value"
printf '|%s|%s|\n' "------------------------" "------------------------------------------"
printf '| %-22s | %-40s |\n' "queries sent" "$sent" "queries answered" "$completed" "queries lost" "$lost" \
    "SERVFAIL" "${servfail:-0}" "response codes" "$codes" "answered per second" "$qps" \
    "worst latency (s)" "${maxlat:-?}" "SIGHUPs sent" "$reloads" "reloads logged" "$done_reloads" \
    "serial served at end" "${served:-?} (expected $serial)"
if [ "${lost:-1}" != "0" ] || [ "${servfail:-0}" != "0" ] || [ "${served:-}" != "$serial" ]; then
    echo "FAIL: queries were lost, SERVFAILs returned, or the last reload was not served" >&2
    exit 1
fi
echo "PASS: no query lost, no SERVFAIL, every reload served"
