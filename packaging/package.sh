#!/bin/sh
# Build a Debian package of tcpship from the tree's build:
#   packaging/package.sh OUTDIR
# (make package). The systemd unit is installed, not enabled: tcpship sees
# every connection of the host, so starting it is the admin's decision.
set -eu
out=${1:-.output}
version=$(git describe --always --dirty 2>/dev/null | sed 's/^v//; s/-/+/g' || echo 0.1.0)
case $version in [0-9]*) ;; *) version="0.1.0+g$version" ;; esac
arch=$(dpkg --print-architecture)
root=$out/deb/root
rm -rf "$out/deb"
install -D -m 0755 tcpship "$root/usr/sbin/tcpship"
install -D -m 0644 packaging/tcpship.service "$root/lib/systemd/system/tcpship.service"
install -D -m 0640 packaging/tcpship.json "$root/etc/tcpship/tcpship.json"
install -D -m 0644 README.md "$root/usr/share/doc/tcpship/README.md"
install -D -m 0644 schemas/event.schema.json "$root/usr/share/tcpship/event.schema.json"
install -D -m 0644 schemas/clickhouse.sql "$root/usr/share/tcpship/clickhouse.sql"
install -D -m 0644 schemas/elasticsearch-template.json "$root/usr/share/tcpship/elasticsearch-template.json"
mkdir -p "$root/DEBIAN"
sed "s/@VERSION@/$version/; s/@ARCH@/$arch/" packaging/debian/control.in > "$root/DEBIAN/control"
install -m 0644 packaging/debian/conffiles "$root/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst "$root/DEBIAN/postinst"
deb="$out/tcpship_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
