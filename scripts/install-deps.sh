#!/usr/bin/env bash
# Installs what anydns needs on Debian 12, for a purpose:
#   build    libldns-dev, libssl-dev (OpenSSL 3: TSIG, cookies) and pkg-config (to build and serve)
#   package  the above plus dpkg-dev (dpkg-shlibdeps computes the .deb's Depends: make deb) and
#            lintian (the package test checks the .deb as Debian's archive would)
#   test     the above plus the test clients and reference servers (dig, kdig, delv, NSD, Knot,
#            pytest, dnspython), ldnsutils (ldns-keygen and ldns-signzone sign the DNSSEC test
#            zones, ldns-verify-zone checks them), python3-cryptography (dnspython re-signs the
#            NSEC3 opt-out chain), dnsperf for the benchmark smoke test, and for the package test
#            (test_package.py: the .deb installed in a throw-away root) dpkg-dev, util-linux
#            (unshare, nsenter, setpriv), iproute2 and curl
# Only packages that are missing are installed. Needs root for apt-get; otherwise prints the command.
set -euo pipefail

purpose=${1:-build}
packages=(libldns-dev libssl-dev pkg-config)
if [ "$purpose" = package ] || [ "$purpose" = test ]; then
    packages+=(dpkg-dev lintian)
fi
if [ "$purpose" = test ]; then
    packages+=(bind9-dnsutils knot-dnsutils nsd knot python3 python3-pytest python3-dnspython dnsperf
        util-linux iproute2 ldnsutils python3-cryptography curl)
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "anydns needs these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the reference servers as services on install; the tests run their own copies.
for service in nsd knot; do
    if command -v service >/dev/null 2>&1; then service "$service" stop >/dev/null 2>&1 || true; fi
done
