# shellcheck shell=bash
# The lab's network, with network namespaces and veth pairs only (nothing leaves the machine): the
# router, the client, the hidden primary, the three sites with the anycast address on lo, and the
# member hosts of the anycast service behind sites A and B (picture: Lab/run-lab.sh, Lab/README.md).
# Sourced by Lab/run-lab.sh; defines functions only.

# build_topology: every namespace in NAMESPACES, their links, addresses and static routes
build_topology() {
    log "building namespaces and veths"
    for ns in "${NAMESPACES[@]}"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    ip netns exec router sysctl -qw net.ipv4.ip_forward=1
    for s in "${SITES[@]}"; do
        # point-to-point link router r-$s <-> site-$s $s-r, addresses with peer (a /32 on each end)
        ip -n router link add "r-$s" type veth peer name "$s-r" netns "site-$s"
        ip -n router addr add "${RTR[$s]}/32" peer "${MGMT[$s]}/32" dev "r-$s"
        ip -n "site-$s" addr add "${MGMT[$s]}/32" peer "${RTR[$s]}/32" dev "$s-r"
        ip -n router link set "r-$s" up
        ip -n "site-$s" link set "$s-r" up
        ip -n "site-$s" route add default via "${RTR[$s]}" dev "$s-r" # replies to the client
        # the shared anycast address on lo, with the deployment script
        ip netns exec "site-$s" "$DEPLOY/anycast-address.sh" add "$ANYCAST/32" >/dev/null
        ip netns exec "site-$s" "$DEPLOY/anycast-address.sh" status "$ANYCAST/32" >/dev/null
    done
    ip -n router link add r-cl type veth peer name cl-r netns client
    ip -n router addr add "$CLIENT_GW/24" dev r-cl
    ip -n client addr add "$CLIENT_ADDR/24" dev cl-r
    ip -n router link set r-cl up
    ip -n client link set cl-r up
    ip -n router link add r-pri type veth peer name pri-r netns primary
    ip -n router addr add "$PRIMARY_GW/24" dev r-pri
    ip -n primary addr add "$PRIMARY/24" dev pri-r
    ip -n router link set r-pri up
    ip -n primary link set pri-r up
    ip -n primary route add default via "$PRIMARY_GW"
    ip -n client route add "$ANYCAST/32" via "$CLIENT_GW"      # the anycast service ...
    ip -n client route add 198.51.100.0/24 via "$CLIENT_GW"    # ... and the operator's view of sites
    ip -n client route add "$SERVICE_ANYCAST/32" via "$CLIENT_GW" # the anycast web service ...
    ip -n client route add 10.80.0.0/16 via "$CLIENT_GW"          # ... and its members' unicast addresses

    # member hosts of the anycast service, each behind its site on a point-to-point link like the
    # sites' own (site end MEMBER_GW, member end MEMBER_ADDR), with the service's anycast address on
    # lo (Deploy/anycast-address.sh, as at the sites). A site forwards 10.53.0.80 to its members
    # (a multipath route, hashed per flow), and the router reaches members' unicast addresses through
    # their site (static routes: only the anycast addresses are learnt by BGP).
    for s in a b; do ip netns exec "site-$s" sysctl -qw net.ipv4.ip_forward=1; done
    for m in "${MEMBERS[@]}"; do
        s=${MEMBER_SITE[$m]}
        ip -n "site-$s" link add "s-$m" type veth peer name "$m-s" netns "mem-$m"
        ip -n "site-$s" addr add "${MEMBER_GW[$m]}/32" peer "${MEMBER_ADDR[$m]}/32" dev "s-$m"
        ip -n "mem-$m" addr add "${MEMBER_ADDR[$m]}/32" peer "${MEMBER_GW[$m]}/32" dev "$m-s"
        ip -n "site-$s" link set "s-$m" up
        ip -n "mem-$m" link set "$m-s" up
        ip -n "mem-$m" route add default via "${MEMBER_GW[$m]}" dev "$m-s"
        ip netns exec "mem-$m" "$DEPLOY/anycast-address.sh" add "$SERVICE_ANYCAST/32" >/dev/null
    done
    for s in a b; do
        hops=()
        for m in "${MEMBERS[@]}"; do
            [ "${MEMBER_SITE[$m]}" = "$s" ] && hops+=(nexthop via "${MEMBER_ADDR[$m]}" dev "s-$m")
        done
        ip -n "site-$s" route add "$SERVICE_ANYCAST/32" "${hops[@]}"
        ip -n router route add "${MEMBER_NET[$s]}" via "${MGMT[$s]}" dev "r-$s"
    done
}
