# shellcheck shell=bash
# Phase 2, identity: id.server CH TXT and NSID through each management address name its site
# (row `identity`). Also takes a DNS cookie from the anycast address, i.e. from site A, into
# COOKIE, which 05-kill.sh shows to site C once the client has moved there.

# identity through each management address (id.server CH TXT and NSID)
obs=()
ok=PASS
for s in "${SITES[@]}"; do
    id=$(identity_at "$s")
    nsid=$(in_ns client dig +nsid +tries=1 +timeout=1 "@${MGMT[$s]}" any. SOA | sed -n 's/.*NSID: .*("\(.*\)").*/\1/p')
    obs+=("${MGMT[$s]}=$id/nsid:${nsid:-none}")
    [ "$id" = "site-$s" ] && [ "$nsid" = "site-$s" ] || ok=FAIL
done
row identity "id.server and NSID at each management address = its site" "${obs[*]}" "" "" "" "$ok"

# a DNS cookie (RFC 7873) taken from the anycast address, i.e. from site A; shown again to site C
# after the client has moved there (05-kill.sh): every site shares cookies.secret.
COOKIE=$(in_ns client dig +cookie +tries=1 +timeout=1 "@$ANYCAST" any. SOA 2>&1 | sed -n 's/^; COOKIE: \([0-9a-f]*\) (good).*/\1/p' || true)
