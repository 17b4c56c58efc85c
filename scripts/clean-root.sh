#!/bin/sh
# A throw-away copy of this machine without the Swift toolchain, to install and try the .deb
# (Tests/Integration/test_package.py; README "Installing"). Run it inside new namespaces:
#
#   unshare --mount --net --pid --fork --kill-child scripts/clean-root.sh DIR
#
# DIR is an empty directory. Inside the private mount namespace it gets a tmpfs holding an
# overlay of / (writes go to the tmpfs, the host's files and dpkg database are never touched)
# with fresh /proc, /dev bound from the host, and empty tmpfs over /tmp, /run, /root and
# /opt/swift (the toolchain). Loopback is brought up in the new network namespace (no other
# interface: no traffic leaves it). The script then prints "ready" and becomes `sleep` inside
# the chroot, with /tmp as working directory, so commands can join it with
#   nsenter --target PID --mount --net --pid --root --wd -- COMMAND
# Everything goes away when that process is killed: the mounts live only in its namespace.
set -eu

[ $# -eq 1 ] || { echo "usage: unshare --mount --net --pid --fork $0 DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (mount, chroot)" >&2; exit 1; }
if [ "$(readlink /proc/1/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ] && [ "$$" -ne 1 ]; then
    echo "$0: run it under unshare --mount --pid --fork, never in the host's mount namespace" >&2
    exit 1
fi
dir=$1

# Nothing mounted here may propagate back to the host.
mount --make-rprivate /
mount -t tmpfs -o mode=0755 anydns-clean-root "$dir"
mkdir "$dir/upper" "$dir/work" "$dir/root"
root=$dir/root
mount -t overlay anydns-clean-root -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$root"

mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t sysfs sysfs "$root/sys"
for d in /tmp /run /root /opt/swift; do
    mkdir -p "$root$d"
    mount -t tmpfs -o mode=0755 anydns-clean-root "$root$d"
done
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

ip link set lo up

echo ready
exec chroot "$root" /bin/sh -c 'cd /tmp && exec sleep infinity'
