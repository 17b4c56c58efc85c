# shellcheck shell=bash
# Phase 12, least-sessions: ties spread over A's members; with sessions held by the client each
# site answers its member of fewest reported sessions, and follows a change of the counts.
# Leaves: the client's sessions held (HOLD_PIDS), `anydns members` at A and B in MEMBERS_SHOWN
# (printed under the table).

# The client holds idle TCP sessions to members' unicast addresses; each agent counts them with
# ss and reports them; the site answers $SERVICE with its member of fewest sessions (TTL 5).
T_LEAST=$(now)
obs=()
ok=PASS
for m in "${MEMBERS[@]}"; do
    wait_for 5 "member $m reporting sessions=0" member_sessions_are "$m" 0 || { ok=FAIL; obs+=("$m: $(member_txt "$m");"); }
done
# a tie (0 and 0): the answers should spread over both of A's members
declare -A seen=()
for ((i = 0; i < 20; i++)); do
    answer=$(service_at a)
    answer=${answer:-none}
    seen[$answer]=$((${seen[$answer]:-0} + 1))
done
tie=()
for answer in "${!seen[@]}"; do tie+=("$(member_of "$answer") ${seen[$answer]}"); done
obs+=("all at 0 sessions: A answered $(printf '%s\n' "${tie[@]}" | sort | paste -sd, | sed 's/,/, /g') of 20;")
[ "${seen[${MEMBER_ADDR[a1]}]:-0}" -gt 0 ] && [ "${seen[${MEMBER_ADDR[a2]}]:-0}" -gt 0 ] || ok=FAIL
log "phase least-sessions: the client holds 3 sessions to a1, 1 to a2, 2 to b1, none to b2"
hold_sessions "${MEMBER_ADDR[a1]}" 3
hold_sessions "${MEMBER_ADDR[a2]}" 1
hold_sessions "${MEMBER_ADDR[b1]}" 2
for spec in a1:3 a2:1 b1:2 b2:0; do
    wait_for 10 "member ${spec%:*} reporting sessions=${spec#*:}" member_sessions_are "${spec%:*}" "${spec#*:}" ||
        { ok=FAIL; obs+=("${spec%:*}: $(member_txt "${spec%:*}");"); }
done
if wait_for 5 "A answering a2" answers_are a "${MEMBER_ADDR[a2]}" && wait_for 5 "B answering b2" answers_are b "${MEMBER_ADDR[b2]}"; then
    obs+=("a1=3 a2=1 -> A answers a2 (5 of 5), b1=2 b2=0 -> B answers b2 (5 of 5);")
else
    ok=FAIL
    obs+=("a1=3 a2=1: A answers $(service_at a), b1=2 b2=0: B answers $(service_at b);")
fi
T_CHANGE=$(now)
log "phase least-sessions: 4 more sessions to a2 (a2=5, a1=3)"
hold_sessions "${MEMBER_ADDR[a2]}" 4
gap=-
if wait_for 10 "A answering a1" answers_are a "${MEMBER_ADDR[a1]}"; then
    gap=$(elapsed "$T_CHANGE" "$(now)")
    obs+=("+4 sessions to a2 -> a2 $(member_txt a2 | awk '{ print $1 }' | tr -d '"') -> A answers a1 (5 of 5) ${gap}s after the change;")
else
    ok=FAIL
    obs+=("+4 to a2: a2 $(member_txt a2), A answers $(service_at a);")
fi
wait_for 5 "member a2 reporting sessions=5" member_sessions_are a2 5 || ok=FAIL
for s in a b; do # what the operator sees (after the table)
    MEMBERS_SHOWN+="site $s: anydns members $SERVICE --management ${MGMT[$s]}:8053"$'\n'
    MEMBERS_SHOWN+="$(in_ns "site-$s" "${ANYDNS_CMD[@]}" members "$SERVICE" --management "${MGMT[$s]}:8053" 2>&1)"$'\n'
    in_ns client curl -sS --max-time 2 "http://${MGMT[$s]}:8053/services" >"$LAB_DIR/site-$s/services.json" 2>&1 || true
    in_ns client curl -sS --max-time 2 "http://${MGMT[$s]}:8053/metrics" >"$LAB_DIR/site-$s/metrics-members.txt" 2>&1 || true
done
stream_row "least-sessions" "ties spread; each site answers its member of fewest reported sessions, follows a change; 0 lost" \
    "${obs[*]}" "$ok" "$gap" "$T_LEAST" yes
