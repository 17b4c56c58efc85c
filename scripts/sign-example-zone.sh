#!/usr/bin/env bash
# Signs Zones/signed.example.zone.in into Zones/signed.example.zone with NSEC3 (no salt, no extra
# iterations, RFC 9276) and fresh ECDSA P-256 keys (a KSK and a ZSK), signatures valid for ten
# years, and writes the KSK as a delv trust anchor to Zones/signed.example.anchor. The private keys
# are thrown away: to change the zone, edit the .in file and run this again.
# Needs ldnsutils (ldns-keygen, ldns-signzone).
set -euo pipefail
cd "$(dirname "$0")/../Zones"
origin=signed.example.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ksk=$(cd "$work" && ldns-keygen -a ECDSAP256SHA256 -k "$origin")
zsk=$(cd "$work" && ldns-keygen -a ECDSAP256SHA256 "$origin")
grep -v '^;' signed.example.zone.in > "$work/zone"
ldns-signzone -n -t 0 -i "$(date -u +%Y%m%d000000)" -e "$(date -u -d '+10 years' +%Y%m%d000000)" \
    -f "$work/signed" "$work/zone" "$work/$ksk" "$work/$zsk"
{
    echo "; Signed by scripts/sign-example-zone.sh from signed.example.zone.in: do not edit."
    cat "$work/signed"
} > signed.example.zone
# delv -a: trust-anchors { NAME static-key FLAGS PROTOCOL ALGORITHM "KEY"; };
awk '$3 == "DNSKEY" { printf "trust-anchors {\n    %s static-key %s %s %s \"%s\";\n};\n", $1, $4, $5, $6, $7 }' \
    "$work/$ksk.key" > signed.example.anchor
echo "signed $origin: Zones/signed.example.zone, trust anchor Zones/signed.example.anchor"
