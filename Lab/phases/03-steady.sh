# shellcheck shell=bash
# Phase 3, steady: a few seconds of the stream before anything happens, all answered by site A,
# none lost (row `steady`, measured on the stream from its start to the next phase's action).

# a few seconds of steady state
wait_for 10 "steady traffic" bash -c "[ \$(wc -l <'$STREAM_OUT') -ge 150 ]" || true
stream_row steady "site-a answers, 0 lost" "" PASS - "$T_STREAM" yes
