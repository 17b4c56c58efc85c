# shellcheck shell=bash
# Phase 9, primary unreachable: the primary's link is down for less than EXPIRE; every site
# notices, keeps serving lab.test. (PRIMARY_SERIAL, from 08-primary-change.sh) and stays ready;
# when the link is back every site refreshes again. No query lost.

T_CUT=$(now)
log "phase primary down: the primary's link is down for less than EXPIRE (${LAB_EXPIRE} s)"
ip -n primary link set pri-r down
obs=()
ok=PASS
for s in "${SITES[@]}"; do
    wait_for 8 "site $s failing to refresh" refresh_failing "$s" || { ok=FAIL; obs+=("$s: $(zone_line "$s");"); }
done
for s in "${SITES[@]}"; do
    if lab_serial_is "$s" "$PRIMARY_SERIAL" && is_ready "$s"; then obs+=("site-$s serves $PRIMARY_SERIAL, ready;"); else
        ok=FAIL
        obs+=("site-$s stopped serving;")
    fi
done
ip -n primary link set pri-r up
ip -n primary route replace default via "$PRIMARY_GW"
for s in "${SITES[@]}"; do
    wait_for 10 "site $s refreshing again" refresh_ok "$s" || { ok=FAIL; obs+=("$s did not recover;"); }
done
obs+=("link down $(elapsed "$T_CUT" "$(now)")s in all")
stream_row "primary unreachable" "sites notice, keep serving lab.test. and stay ready (< EXPIRE), 0 lost" \
    "${obs[*]}" "$ok" - "$T_CUT" yes
