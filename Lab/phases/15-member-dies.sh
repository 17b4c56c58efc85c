# shellcheck shell=bash
# Phase 15, a member dies: kill -9 of b2's agent (no leave); B drops b2 after the lease, answers
# b1 and keeps the service's route. Leaves: b2's agent gone.

# kill -9 of b2's agent: no leave, the reports stop; B drops b2 after the lease and answers b1.
T_SILENT=$(now)
log "phase member silent: SIGKILL to b2's agent (no leave; lease ${MEMBER_LEASE}s)"
{ kill -KILL "${AGENT_PID[b2]}"; wait "${AGENT_PID[b2]}"; } 2>/dev/null || true
AGENT_PID[b2]=
obs=()
ok=PASS
gap=-
if wait_for $((MEMBER_LEASE + 5)) "b2 dropped from B's table" member_gone b2; then
    gap=$(elapsed "$T_SILENT" "$(now)")
    obs+=("b2 dropped from B's table ${gap}s after the kill (lease ${MEMBER_LEASE}s, a report every ${MEMBER_INTERVAL}s);")
    le "$MEMBER_LEASE" "$(awk -v g="$gap" -v i="$MEMBER_INTERVAL" 'BEGIN { print g + i }')" || { ok=FAIL; obs+=("(before the lease);"); }
else
    ok=FAIL
    obs+=("b2 still in B's table: $(member_txt b2);")
fi
if answers_are b "${MEMBER_ADDR[b1]}"; then obs+=("B answers b1 (5 of 5);"); else
    ok=FAIL
    obs+=("B answers $(service_at b);")
fi
if route_from "$SERVICE_ANYCAST" b && service_ready b; then obs+=("B keeps $SERVICE_ANYCAST/32 (b1 left);"); else
    ok=FAIL
    obs+=("B lost $SERVICE_ANYCAST/32;")
fi
stream_row "a member dies (kill -9)" "no leave: B drops b2 after the lease (${MEMBER_LEASE}s), answers b1, keeps the route; 0 lost" \
    "${obs[*]}" "$ok" "$gap" "$T_SILENT" yes
