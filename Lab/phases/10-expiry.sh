# shellcheck shell=bash
# Phase 10, lab.test. expires at A: only site A is cut off from the primary until its copy
# expires: A answers SERVFAIL for it, /readyz 503, withdrawn, the client moves to site-b with no
# query lost, B and C keep their routes; then the path comes back and A is announced again.

T_EXPIRE=$(now)
log "phase expiry: site A cut off from the primary until lab.test. expires there (${LAB_EXPIRE} s)"
ip -n primary route add blackhole "${MGMT[a]}/32"
obs=()
ok=PASS
gap=-
if wait_for $((LAB_EXPIRE + 10)) "site a /readyz != 200 (zone expired)" not_ready a; then
    obs+=("A /readyz $(readyz a) \"$(head -c 70 "$LAB_DIR/site-a/readyz.body" | tr -d '\n')\" after $(elapsed "$T_EXPIRE" "$(now)")s;")
    grep -q "lab.test. expired" "$LAB_DIR/site-a/readyz.body" || ok=FAIL
else
    ok=FAIL
    obs+=("A never withdrew;")
fi
if t_b=$(stream_wait b "$T_EXPIRE" $((LAB_EXPIRE + 15))); then
    gap=$(elapsed "$T_EXPIRE" "$t_b")
    obs+=("client -> site-b after ${gap}s;")
else
    ok=FAIL
    obs+=("client not on site-b;")
fi
wait_for 10 "router route from site a withdrawn" router_lacks_route_from a || { ok=FAIL; obs+=("A route still at router;"); }
for s in b c; do
    if router_has_route_from "$s" && is_ready "$s"; then :; else
        ok=FAIL
        obs+=("$s lost its route;")
    fi
done
servfail=$(in_ns client dig +tries=1 +timeout=1 "@${MGMT[a]}" lab.test. SOA | grep -c "status: SERVFAIL" || true)
obs+=("A answers lab.test. SERVFAIL: $([ "$servfail" = 1 ] && echo yes || echo no);")
[ "$servfail" = 1 ] || ok=FAIL
T_HEAL=$(now)
ip -n primary route del blackhole "${MGMT[a]}/32"
if site_ready a 20 && wait_for 20 "router route from site a" router_has_route_from a; then
    obs+=("reconnected: A ready and announced again after $(elapsed "$T_HEAL" "$(now)")s")
else
    ok=FAIL
    obs+=("A did not come back")
fi
stream_row "lab.test. expires at A" "A: SERVFAIL, /readyz 503, withdrawn; client -> site-b, 0 lost; B, C keep routes" \
    "${obs[*]}" "$ok" "$gap" "$T_EXPIRE" yes
