#!/bin/sh
# Build tcpship's Debian packages with debhelper:
#   packaging/package.sh OUTDIR        (make package)
# The tree's files (tracked, and new ones not ignored) are copied to
# OUTDIR/deb/tcpship-VERSION with packaging/debian as debian/, and
# dpkg-buildpackage builds the binary packages there: tcpship (stripped)
# and tcpship-dbgsym. The version is the changelog's plus the commit:
# 0.1.0+git<commits>.<hash>, so each build of main sorts after the last.
# Prints the path of the .changes file (lintian takes it whole).
set -eu
out=${1:-.output}
base=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
if git rev-parse --git-dir >/dev/null 2>&1; then
	version="$base+git$(git rev-list --count HEAD).$(git rev-parse --short=10 HEAD)"
	git diff --quiet HEAD 2>/dev/null || version="$version.dirty"
else
	version=$base
fi
dir="$out/deb"
src="$dir/tcpship-$version"
rm -rf "$dir"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard |
	xargs -0 sh -c 'for f; do [ ! -e "$f" ] || cp --parents "$f" "$0"; done' "$src"
cp -r packaging/debian "$src/debian"
if [ "$version" != "$base" ]; then
	{
		printf 'tcpship (%s) unstable; urgency=medium\n\n' "$version"
		printf '  * Built from commit %s.\n\n' "$(git rev-parse HEAD)"
		printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l packaging/debian/changelog -S Maintainer)" \
			"$(date -R)"
		cat packaging/debian/changelog
	} > "$src/debian/changelog"
fi
(cd "$src" && dpkg-buildpackage -b -us -uc --no-sign -j"$(nproc)") > "$dir/build.log" 2>&1 || {
	tail -40 "$dir/build.log" >&2
	echo "package.sh: dpkg-buildpackage failed; the whole log: $dir/build.log" >&2
	exit 1
}
arch=$(dpkg --print-architecture)
echo "$dir/tcpship_${version}_${arch}.changes"
