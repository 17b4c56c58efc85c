# shellcheck shell=bash
# Phase 7, reload: the serial of any. is bumped in every site's copy of the zone and every anydns
# gets SIGHUP; each site must serve the new serial, stay ready, and no query may be lost.

old=$(awk '/; serial/ { print $1; exit }' "$LAB_DIR/site-a/any.zone")
new=$((old + 1))
T_RELOAD=$(now)
log "phase reload: serial $old -> $new in every site's any.zone, SIGHUP to every anydns"
for s in "${SITES[@]}"; do
    sed -i "s/^\( *\)$old\( *; serial\)/\1$new\2/" "$LAB_DIR/site-$s/any.zone"
    grep -q "$new *; serial" "$LAB_DIR/site-$s/any.zone" || die "could not bump the serial in site $s's zone"
    kill -HUP "${ANYDNS_PID[$s]}"
done
obs=()
ok=PASS
for s in "${SITES[@]}"; do
    if wait_for 15 "site $s serving serial $new" serial_is "$s" "$new"; then
        obs+=("site-$s serves $new after $(elapsed "$T_RELOAD" "$(now)")s;")
    else
        ok=FAIL
        obs+=("$s:$(serial_at "$s")")
    fi
    is_ready "$s" || { ok=FAIL; obs+=("($s not ready)"); }
done
# one more second of traffic after the last site switched, so the window covers the reload
T_AFTER=$(awk -v t="$(now)" 'BEGIN { printf "%.6f", t + 1 }')
stream_wait a "$T_AFTER" 10 >/dev/null || { ok=FAIL; obs+=("client left site-a"); }
for s in "${SITES[@]}"; do # for the record: what each site's management HTTP says now
    for path in health metrics; do
        in_ns client curl -sS --max-time 2 "http://${MGMT[$s]}:8053/$path" >"$LAB_DIR/site-$s/$path.txt" 2>&1 || true
    done
done
stream_row "reload (SIGHUP)" "every site serves the new any. serial via its management address, 0 lost" \
    "${obs[*]}" "$ok" - "$T_RELOAD" yes
