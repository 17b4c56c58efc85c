#!/bin/sh
# Builds the Debian package of anydns from a release binary (README "Installing"; `make deb`).
#
#   scripts/build-deb.sh BINARY OUTDIR
#
# BINARY must not need the Swift runtime: `make deb` builds it with --static-swift-stdlib, so the
# package runs on a Debian 12 machine without the toolchain. The files are staged with
# scripts/install.sh (PREFIX=/usr, unit in /lib/systemd/system); Depends comes from the
# binary's real shared-library needs (dpkg-shlibdeps, as debhelper's ${shlibs:Depends}), plus
# passwd for useradd in postinst. The version is BuildInfo.version in
# Sources/Operations/BuildInfo.swift. Prints the path of the .deb on standard output.
#
# Maintainer field: $DEBFULLNAME <$DEBEMAIL> (as dch uses them), else git's user.name/user.email.
set -eu

[ $# -eq 2 ] || { echo "usage: $0 BINARY OUTDIR" >&2; exit 2; }
binary=$(realpath "$1")
outdir=$2
cd "$(dirname "$0")/.."

version=$(sed -n 's/^ *public static let version = "\(.*\)"$/\1/p' Sources/Operations/BuildInfo.swift)
[ -n "$version" ] || { echo "$0: no BuildInfo.version in Sources/Operations/BuildInfo.swift" >&2; exit 1; }
# The package's version: upstream's, then the Debian revision (the changelog's first entry).
changelog_version=$(sed -n '1s/^anydns (\([^)]*\)).*/\1/p' Deploy/debian/changelog)
case $changelog_version in
"$version"-*) package_version=$changelog_version ;;
*)
    echo "$0: Deploy/debian/changelog starts at $changelog_version, BuildInfo.version is $version: add an entry" >&2
    exit 1
    ;;
esac
arch=$(dpkg --print-architecture)
name=${DEBFULLNAME:-$(git config user.name 2>/dev/null || echo "anydns builder")}
email=${DEBEMAIL:-$(git config user.email 2>/dev/null || echo "root@localhost")}

# The package must not depend on the toolchain's runtime.
if ldd "$binary" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime|not found' >&2; then
    echo "$0: $binary needs the Swift runtime (build it with --static-swift-stdlib: make deb)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Staged where dpkg-shlibdeps expects a package's files: debian/<package>/ of a source tree.
stage=$work/src/debian/anydns
mkdir -p "$stage/DEBIAN"
DESTDIR=$stage PREFIX=/usr UNITDIR=/lib/systemd/system scripts/install.sh "$binary"
# What every Debian package carries (policy 12.5, 12.7): the copyright file, and the changelog
# compressed with gzip -9n so the package builds the same bytes every time.
install -m 0644 Deploy/debian/copyright "$stage/usr/share/doc/anydns/copyright"
# Each entry is signed by whoever builds, as dch signs with $DEBFULLNAME <$DEBEMAIL>.
sed "s/^ -- [^<]*<[^>]*>/ -- $name <$email>/" Deploy/debian/changelog |
    gzip -9n > "$stage/usr/share/doc/anydns/changelog.Debian.gz"
chmod 0644 "$stage/usr/share/doc/anydns/changelog.Debian.gz"
# Exceptions lintian should know of, each with its reason in the file.
install -d -m 0755 "$stage/usr/share/lintian/overrides"
install -m 0644 Deploy/debian/lintian-overrides "$stage/usr/share/lintian/overrides/anydns"
# Stripped as dh_strip does (Debian policy 10.1): 134 MB of debug information and symbols off.
strip --remove-section=.comment --remove-section=.note "$stage/usr/bin/anydns"

# ${shlibs:Depends} without debhelper: dpkg-shlibdeps wants a debian/control to exist.
printf 'Source: anydns\n\nPackage: anydns\nArchitecture: any\n' > "$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O debian/anydns/usr/bin/anydns | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "$0: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

cat > "$stage/DEBIAN/control" <<EOF
Package: anydns
Version: $package_version
Architecture: $arch
Maintainer: $name <$email>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $shlibs, passwd
Section: net
Priority: optional
Description: anycast-aware authoritative DNS server
 anydns serves RFC 1035 zone files over UDP and TCP and tells a BGP announcer
 (ExaBGP or BIRD) beside it, through /readyz, whether this site should receive
 anycast traffic. Every site runs the same binary and configuration.
 .
 The default configuration serves the example zones on 127.0.0.1 and ::1 only;
 /usr/share/doc/anydns/Deploy/README.md walks through setting up a site.
EOF

# Every file under /etc is a conffile (Debian policy 10.7.2): dpkg keeps the operator's edits.
(cd "$stage" && find etc -type f | sort | sed 's|^|/|') > "$stage/DEBIAN/conffiles"

cat > "$stage/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    # The unit runs as anydns (User=, Group=); created once, like nsd and knot.
    if ! getent group anydns >/dev/null; then
        groupadd --system anydns
    fi
    if ! getent passwd anydns >/dev/null; then
        useradd --system --gid anydns --home-dir /var/lib/anydns --no-create-home \
            --shell /usr/sbin/nologin --comment "anydns DNS server" anydns
    fi
    # The unit's StateDirectory (storage: transferred zones, journals); systemd would create it,
    # but `anydns serve` run by hand needs it too.
    if [ ! -d /var/lib/anydns ]; then
        install -d -o anydns -g anydns -m 0750 /var/lib/anydns
    fi
fi
# The unit is not enabled or started here: a site should answer (and be announced) only once
# its per-site values are set (Deploy/README.md). On an upgrade a running server is restarted.
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
    if [ "$1" = configure ] && [ -n "${2:-}" ]; then
        systemctl try-restart anydns.service || true
    fi
fi
exit 0
EOF

cat > "$stage/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    systemctl stop anydns.service || true
fi
exit 0
EOF

cat > "$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = purge ]; then
    # State of the package (transferred zones, journals). The anydns user and group stay, as
    # with nsd: files owned by their ids may remain elsewhere, and a later user must not get them.
    rm -rf /var/lib/anydns
fi
exit 0
EOF
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

mkdir -p "$outdir"
deb=$outdir/anydns_${package_version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
