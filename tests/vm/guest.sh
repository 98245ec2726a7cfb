#!/bin/busybox sh
# /init of the throwaway VM that tests/vm/test_vm.py boots (see vmrun.py).
#
# Runs tcpship inside the guest kernel the way the host tests do — forced
# onto the kprobe set, on `auto`, and on the tracepoint set — while the
# trigger programs make real loopback traffic, then prints every file it
# collected between `@@TSVM begin NAME` / `@@TSVM end NAME` markers on the
# serial console and powers off. It judges nothing: the host parses the
# console and checks every event field by field against the ground truth
# the triggers printed. Every wait here is bounded.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
dmesg -n 1	# only emergencies may interleave with our output from here on
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup	# the identity keys' cgroup paths
hostname tcpship-vm
ip link set lo up	# without it every loopback connect hangs
echo "@@TSVM up=$(cut -d' ' -f1 /proc/uptime)"

R=/tmp/r
mkdir -p $R
fails=0
note() { echo "$*" >> $R/guest.log; }
# stamp LABEL: when each step began, seconds since boot (for the report)
stamp() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> $R/timeline; }

# start NAME ARGS...: tcpship in the background; waits (at most 30 s) for
# its ready line. Its stderr goes through a FIFO to a reader that copies it
# to $R/NAME.err and says "ready" (or "eof", if tcpship ends first) on fd 3.
start() {
	name=$1
	shift
	mkfifo /tmp/$name.errfifo /tmp/$name.said
	/bin/tcpship "$@" > $R/$name.out 2> /tmp/$name.errfifo &
	echo $! > /tmp/$name.pid
	exec 3<>/tmp/$name.said
	{
		while IFS= read -r line || [ -n "$line" ]; do
			printf '%s\n' "$line"
			case $line in 'tcpship: ready'*) echo ready >&3 ;; esac
		done < /tmp/$name.errfifo > $R/$name.err
		echo eof >&3
	} &
	echo $! > /tmp/$name.copier
	said=
	read -t 30 said <&3
	exec 3<&-
	case $said in
	ready) return 0 ;;
	eof) note "$name: exited before ready" ;;
	*) note "$name: not ready within 30 s" ;;
	esac
	fails=$((fails + 1))
	return 1
}

# stop NAME: SIGINT, then at most 20 s for the drain and flush (a watchdog
# kills it after that)
stop() {
	pid=$(cat /tmp/$1.pid)
	kill -INT "$pid" 2>/dev/null
	(sleep 20; touch /tmp/$1.killed; kill -KILL "$pid") 2>/dev/null &
	dog=$!
	wait "$pid"
	echo $? > $R/$1.rc
	kill "$dog" 2>/dev/null
	wait "$(cat /tmp/$1.copier)"	# its stderr copied to the end
	if [ -e /tmp/$1.killed ]; then
		note "$1: still running 20 s after SIGINT: killed"
		fails=$((fails + 1))
	fi
}

# trig LABEL PROGRAM ARGS...: a trigger program (at most 60 s); its ground
# truth is its stdout
trig() {
	label=$1
	shift
	prog=$1
	shift
	timeout 60 /trig/$prog "$@" > $R/trig.$label.out 2> $R/trig.$label.err
	rc=$?
	echo $rc > $R/trig.$label.rc
	[ $rc = 0 ] || { note "trigger $label: exit $rc"; fails=$((fails + 1)); }
}

# trigcg LABEL CGROUP PROGRAM ARGS...: trig, run inside a cgroup (made
# here) shaped like a docker container's
trigcg() {
	label=$1
	cg=/sys/fs/cgroup$2
	shift 2
	prog=$1
	shift
	mkdir -p "$cg"
	sh -c 'echo $$ > "$0/cgroup.procs" && exec timeout 60 "$@"' "$cg" /trig/$prog "$@" \
		> $R/trig.$label.out 2> $R/trig.$label.err
	rc=$?
	echo $rc > $R/trig.$label.rc
	[ $rc = 0 ] || { note "trigger $label: exit $rc"; fails=$((fails + 1)); }
}

t0=$(cut -d' ' -f1 /proc/uptime)

stamp list-probes
# 1. every program of both sets through this kernel's verifier
/bin/tcpship --list-probes > $R/list.out 2> $R/list.err
echo $? > $R/list.rc
# which sock/tcp tracepoints this kernel has (what --list-probes says is missing)
ls /sys/kernel/tracing/events/sock /sys/kernel/tracing/events/tcp > $R/tracepoints 2>&1

stamp start
# 2. the kprobe set forced (every event), its --min-latency filter, what
#    --probes auto picks, and the tracepoint set, all watching the same
#    traffic
start kp --probes kprobe -e all --flow-interval 1s
start lat --probes kprobe -e send,recv --min-latency 100ms
start auto -e all
start tp --probes tracepoint --flow-interval 1s
stamp triggers
# the full accept queue takes ~3 s to give up: runs beside the rest
timeout 60 /trig/tcp_stall synfull > $R/trig.synfull.out 2> $R/trig.synfull.err &
synfull=$!
# a flow alive 2.5 s (the server's wait) outlives a walk of each run (1 s
# apart): flow reports from both sets
timeout 60 /trig/tcp_pair -n 4321 -r 1234 -d 2500 > $R/trig.flowlong.out 2> $R/trig.flowlong.err &
flowlong=$!
trig auto_pair tcp_pair -n 100 -r 200
trigcg container /system.slice/docker-5e1f00d0c0ffee5e1f00d0c0ffee5e1f00d0c0ffee5e1f00d0c0ffee5e1f0c0a.scope \
	tcp_pair -n 10 -r 20
trig pair4 tcp_pair -n 12345 -r 54321 -k 3
trig pair6 tcp_pair -6 -n 1 -r 100000
trig mapped tcp_pair -m
trig hostile tcp_pair -c 6122625c630a6401ff5d7fc3a9
trig comm15 tcp_pair -c 3031323334353637383961626364656658595a
trig latency tcp_pair -n 70000 -r 3000 -d 150
trig minlat tcp_pair -n 500 -r 500 -d 300
trig refused4 connect_fail refused
trig refused6 connect_fail refused -6
trig dns_sendto dns_query sendto 127.0.0.1 www.example.com
trig dns_connect dns_query connect 127.0.0.1 api.internal.corp 28
trig dns_sendmmsg dns_query sendmmsg 127.0.0.1 db.prod.example
trig dns_sendmsg6 dns_query sendmsg ::1 ipv6.example.org 16
trig dns_hostile dns_query sendto 127.0.0.1 evil.example 1 612e625c6322000aff
trig dns_answer dns_query sendto+answer 127.0.0.1 ans.example
trig dns_answer_c dns_query connect+answer 127.0.0.1 ans2.example
trig stall4 tcp_stall data
trig stall6 tcp_stall data ::1
stamp wait-synfull
wait $synfull
rc=$?
echo $rc > $R/trig.synfull.rc
[ $rc = 0 ] || { note "trigger synfull: exit $rc"; fails=$((fails + 1)); }
wait $flowlong
rc=$?
echo $rc > $R/trig.flowlong.rc
[ $rc = 0 ] || { note "trigger flowlong: exit $rc"; fails=$((fails + 1)); }
stamp stop
stop kp
stop lat
stop auto
stop tp
stamp hidden-kallsyms
# 3. /proc/kallsyms empty, the way systemd's ProtectKernelTunables= leaves
#    it: the kprobe set still attaches (its targets found in BTF)
if mount -o bind /dev/null /proc/kallsyms; then
	start nksym --probes kprobe -e connect,accept,close
	trig nksym_pair tcp_pair -n 10 -r 20
	stop nksym
	umount /proc/kallsyms
else
	note "cannot hide /proc/kallsyms"
	fails=$((fails + 1))
fi
stamp done

t1=$(cut -d' ' -f1 /proc/uptime)
echo "@@TSVM tests_s=$(awk "BEGIN { print $t1 - $t0 }")"
echo "@@TSVM kernel=$(uname -r)"

touch $R/guest.log
for f in $R/*; do
	echo "@@TSVM begin ${f##*/}"
	cat "$f"
	# a last line without its newline still ends before the marker
	[ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ] && echo
	echo "@@TSVM end ${f##*/}"
done
echo "@@TSVM exit-code=$fails"
poweroff -f
