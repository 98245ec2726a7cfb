#!/bin/sh
# Install what tcpship needs from Debian's archive, and only what is missing.
#   packaging/deps.sh build|test|bench
# The lists here are the project's Build-Depends and what the test suite and
# the benchmark start for real (rsyslog, ClickHouse, QEMU with Debian's own
# kernel). Services those packages ship are not started: the tests run
# private instances on loopback.
set -eu

build="make gcc libc6-dev linux-libc-dev clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libdeflate-dev
	libjson-c-dev libyaml-dev libcurl4-openssl-dev libssl-dev libsystemd-dev librdkafka-dev libmicrohttpd-dev libcap-ng-dev pkg-config"
test="$build python3 python3-jsonschema iproute2 nftables util-linux openssl
	rsyslog rsyslog-openssl libivykis0 libnet1 libwrap0 clickhouse-server qemu-system-x86
	busybox-static runc prometheus
	debhelper lintian man-db systemd python3-yaml dnsmasq-base"
bench="$build python3 bpftrace bpfcc-tools linux-headers-amd64"

case "${1:-}" in
build) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "tcpship: missing packages:$missing" >&2
	echo "tcpship: run as root, or: apt-get install$missing" >&2
	exit 1
fi
echo "tcpship: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# keep package scripts from starting the daemons they ship (rsyslog,
# clickhouse-server): 101 = "action forbidden" to invoke-rc.d
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e $policy ]; then
	printf '#!/bin/sh\nexit 101\n' > $policy
	chmod +x $policy
	own_policy=1
fi
trap '[ -n "$own_policy" ] && rm -f $policy' EXIT
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
