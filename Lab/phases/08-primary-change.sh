# shellcheck shell=bash
# Phase 8, change on the primary: lab.test. gets a new serial on Knot; its NOTIFY makes every
# site take it by IXFR (gap: from the change to the last site serving it).
# Leaves: PRIMARY_SERIAL, the lab.test. serial the primary and every site serve.

obs=()
ok=PASS
base=$(primary_serial)
for s in "${SITES[@]}"; do
    wait_for 15 "site $s serving lab.test. $base" lab_serial_is "$s" "$base" || { ok=FAIL; obs+=("$s never transferred lab.test.;"); }
done
T_PRIMARY=$(now)
log "phase primary: lab.test. changed on Knot ($base -> $((base + 1))), knotc zone-reload; NOTIFY to every site"
lab_zone "$((base + 1))" >"$LAB_DIR/primary/lab.test.zone"
knotc_primary zone-reload lab.test. >/dev/null || { ok=FAIL; obs+=("knotc zone-reload failed;"); }
wait_for 10 "Knot serving the new serial" primary_changed "$base" || { ok=FAIL; obs+=("Knot kept $base;"); }
PRIMARY_SERIAL=$(primary_serial) # the lab.test. serial every site must serve from now on
last=-
for s in "${SITES[@]}"; do
    if wait_for 15 "site $s serving lab.test. $PRIMARY_SERIAL" lab_serial_is "$s" "$PRIMARY_SERIAL"; then
        last=$(elapsed "$T_PRIMARY" "$(now)")
        obs+=("site-$s serves $PRIMARY_SERIAL after ${last}s;")
    else
        ok=FAIL
        obs+=("$s:$(lab_serial_at "$s");")
    fi
done
ixfr=$(in_ns client curl -sS --max-time 2 "http://${MGMT[a]}:8053/metrics" | awk '/^anydns_transfers_total\{direction="in",type="IXFR",result="ok"\}/ { print $2 }')
obs+=("IXFRs in at A: ${ixfr:-0}")
stream_row "change on the primary" "Knot NOTIFY -> every site serves the new lab.test. serial by IXFR, 0 lost" \
    "${obs[*]}" "$ok" "$last" "$T_PRIMARY" yes
