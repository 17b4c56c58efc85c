# shellcheck shell=bash
# The results table: the checks' rows, the rows whose sent/lost come from the query stream, and
# the table printed at exit (by cleanup, whatever happened). Sourced by Lab/run-lab.sh.

ROWS=()
FAILED=0
MEMBERS_SHOWN= # printed under the table (the least-sessions phase fills it)
# row PHASE EXPECTED OBSERVED SENT LOST GAP RESULT: a row of the table, added at once (a check
# that is not measured on the query stream leaves SENT, LOST, GAP empty); any RESULT but PASS
# makes the run exit 1
row() {
    ROWS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"$'\t'"$5"$'\t'"$6"$'\t'"$7")
    [ "$7" = PASS ] || FAILED=1
    log "result: $1 — $3 — $7"
}
print_table() {
    [ ${#ROWS[@]} -gt 0 ] || return 0
    echo
    echo "anydns anycast lab — $(date -u +%Y-%m-%dT%H:%M:%SZ), binary $ANYDNS_SOURCE"
    {
        printf 'phase\texpected\tobserved\tsent\tlost\tgap\tresult\n'
        printf '%s\n' "${ROWS[@]}"
    } | awk -F'\t' -v maxw="18 34 58 5 5 5 6" '
        # word-wrap a cell to width w: fills part[1..n], returns n
        function wrap(text, w, part,    n, words, k, i, line) {
            n = 0; line = ""
            k = split(text, words, " ")
            for (i = 1; i <= k; i++) {
                if (line != "" && length(line) + 1 + length(words[i]) > w) { part[++n] = line; line = words[i] }
                else line = (line == "" ? words[i] : line " " words[i])
            }
            part[++n] = line
            return n
        }
        BEGIN { split(maxw, mw, " ") }
        { for (i = 1; i <= 7; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
        END {
            for (i = 1; i <= 7; i++) if (w[i] > mw[i]) w[i] = mw[i]
            sep = ""
            for (i = 1; i <= 7; i++) { s = ""; for (k = 0; k < w[i]; k++) s = s "-"; sep = sep s (i < 7 ? "-+-" : "") }
            for (r = 1; r <= n; r++) {
                lines = 1
                for (i = 1; i <= 7; i++) {
                    delete part
                    c = wrap(cell[r, i], w[i], part)
                    for (j = 1; j <= c; j++) piece[i, j] = part[j]
                    count[i] = c
                    if (c > lines) lines = c
                }
                for (j = 1; j <= lines; j++) {
                    line = ""
                    for (i = 1; i <= 7; i++) line = line sprintf("%-" w[i] "s", (j <= count[i] ? piece[i, j] : "")) (i < 7 ? " | " : "")
                    sub(/ +$/, "", line)
                    print line
                }
                print sep
            }
        }'
    echo "gap = time from the phase's action to the first answer from the expected site"
    echo "      member phases: least-sessions = from the change of counts to the new answer; members leave ="
    echo "      from the last leave to the router's withdrawal of $SERVICE_ANYCAST/32; rejoin = from the agent's"
    echo "      start to the route; a member dies = from the kill to the member's removal"
    [ -z "$MEMBERS_SHOWN" ] || printf '\n%s\n' "$MEMBERS_SHOWN"
    echo "logs and configs: $LAB_DIR"
}

# ---- rows measured on the query stream
# stream_row NAME EXPECTED OBSERVED RESULT GAP FROM LOST_MUST_BE_ZERO: a phase's row whose sent,
# lost, answering sites and longest silence come from the client's query stream between FROM (the
# phase's action) and the FROM of the next stream_row (the last one's: the end of the stream), so
# those rows add up to the `total` row. Only recorded here; stream_verdict adds them to the table
# in the order they were recorded, after the last phase. LOST_MUST_BE_ZERO yes: any loss is a FAIL.
STREAM_ROWS_NAME=() STREAM_ROWS_EXPECTED=() STREAM_ROWS_OBSERVED=() STREAM_ROWS_RESULT=()
STREAM_ROWS_GAP=() STREAM_ROWS_FROM=() STREAM_ROWS_ZERO=()
stream_row() {
    STREAM_ROWS_NAME+=("$1")
    STREAM_ROWS_EXPECTED+=("$2")
    STREAM_ROWS_OBSERVED+=("$3")
    STREAM_ROWS_RESULT+=("$4")
    STREAM_ROWS_GAP+=("$5")
    STREAM_ROWS_FROM+=("$6")
    STREAM_ROWS_ZERO+=("$7")
}
# note_at_end MESSAGE: logged after the table's last row, before the verdict
END_NOTES=()
note_at_end() { END_NOTES+=("$*"); }

# phase_row NAME EXPECTED OBS OK GAP FROM TO LOST_MUST_BE_ZERO
phase_row() {
    local sent lost answered sites max_silence text ok=$4
    eval "$(window "$6" "$7")"
    sites=${sites//,/, }
    text="$3 answered by ${sites//:/ }; longest silence ${max_silence}s"
    : "$answered"
    if [ "$8" = yes ] && [ "$lost" != 0 ]; then ok=FAIL; fi
    row "$1" "$2" "$text" "$sent" "$lost" "$5" "$ok"
}

# stream_verdict: after the last phase, stop the stream and add the stream_row rows and the total
stream_verdict() {
    local i to sent lost answered sites max_silence note
    T_END=$(now)
    stop_stream
    for i in "${!STREAM_ROWS_NAME[@]}"; do
        to=${STREAM_ROWS_FROM[$((i + 1))]:-$T_END}
        phase_row "${STREAM_ROWS_NAME[$i]}" "${STREAM_ROWS_EXPECTED[$i]}" "${STREAM_ROWS_OBSERVED[$i]}" \
            "${STREAM_ROWS_RESULT[$i]}" "${STREAM_ROWS_GAP[$i]}" "${STREAM_ROWS_FROM[$i]}" "$to" "${STREAM_ROWS_ZERO[$i]}"
    done
    eval "$(window "$T_STREAM" "$T_END")"
    sites=${sites//,/, }
    : "$answered" "$max_silence"
    row total "whole stream" "answered by ${sites//:/ }" "$sent" "$lost" "" PASS
    for note in "${END_NOTES[@]}"; do log "$note"; done
    if [ "$FAILED" = 0 ]; then log "all expectations held"; else log "some expectations failed"; fi
}
