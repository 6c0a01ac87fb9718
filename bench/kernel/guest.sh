#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# init (PID 1) of a User-Mode Linux boot of bench/kernel/run: the host's root
# read-only over hostfs. Loads the rxcost module (bench/kernel/rxcost), builds
# the two-node VXLAN overlay of kernel-port/kernel-e2e/topology.sh, binds a
# kernel UDP socket on node b (host path, port 5001) and in its container c42
# (overlay, port 5002), then measures the cases interleaved, rxcost_reps
# times, and appends one line per measurement to results.txt in rxcost_out
# (a host directory, mounted read-write over hostfs).
#
# Its parameters come from the kernel command line (the kernel hands init
# the unknown name=value arguments as its environment):
#   rxcost_kernel   vanilla or series (series adds the fast path off and on)
#   rxcost_ko       the module, built against this kernel
#   rxcost_topology kernel-port/kernel-e2e/topology.sh
#   rxcost_out      the host directory for results.txt and guest.log
#   rxcost_boot     this boot's number (written into every line)
#   rxcost_reps     repetitions of the cases
#   rxcost_batch    frames per bottom-half window
#   rxcost_rounds   timed windows per measurement
#   rxcost_netfilter  none, or netfilter: node b's rules as a Docker node's
#                   (docker_ruleset below), on the host path and the overlay
#   rxcost_profile  (bench/kernel/profile, series only) instead of the
#                   three cases: the overlay with the fast path on and off,
#                   interleaved, each measurement bracketed by the lines
#                   "start CASE REP" / "end CASE REP" in marks, for the
#                   host's perf
# shellcheck disable=SC2154 # rxcost_* come from the kernel command line
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mkdir -p /run/out
mount -t hostfs none /run/out -o "$rxcost_out" || {
	echo "guest: cannot mount $rxcost_out"
	/bin/busybox poweroff -f
}
out=/run/out/results.txt
log=/run/out/guest.log

# NODE_A_IP, NODE_B_IP, their MACs and the containers' as topology.sh makes them.
host_frame="02:00:00:00:00:01 02:00:00:00:00:02 192.168.0.1 192.168.0.2"
inner_frame="02:2a:0a:e9:02:02 02:2a:0a:e9:01:02 10.233.2.2 10.233.1.2"

fail() {
	echo "guest: boot $rxcost_boot: FAIL: $*" | tee -a "$log"
	echo "boot=$rxcost_boot kernel=$rxcost_kernel FAIL $*" >>"$out"
	/bin/busybox poweroff -f
}

# measure CASE NS COMMAND: one run of the module, its line to results.txt
# (with netfilter: how many frames the bridge's FORWARD rule accepted)
measure() {
	hits0=$(fpmap_hits)
	accepted0=$(bridge_accepted)
	ip netns exec "$2" sh -c "echo $3 >/proc/rxcost" || fail "$1: rxcost refused: $3"
	hits=$(($(fpmap_hits) - hits0))
	nf=
	[ "$rxcost_netfilter" = none ] || nf=" nf_accepted=$(($(bridge_accepted) - accepted0))"
	echo "boot=$rxcost_boot kernel=$rxcost_kernel rep=$rep case=$1 fpmap_hits=$hits $(cat /proc/rxcost)$nf" >>"$out"
}

# Node b as Docker leaves it (kernel-port/kernel-e2e's docker scenario, without
# its dropped port's traffic): br_netfilter's hooks on the bridge,
# bridge-nf-call-iptables on, conntrack (the FORWARD chain's first rule needs
# it, so it sees both paths' frames), FORWARD dropping by default, accepting
# what conntrack knows and what goes between the bridge's ports.
docker_ruleset() {
	ip netns exec b sh -c 'echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables' &&
		ip netns exec b iptables-legacy -P FORWARD DROP &&
		ip netns exec b iptables-legacy -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT &&
		ip netns exec b iptables-legacy -A FORWARD -p udp --dport 5099 -j DROP &&
		ip netns exec b iptables-legacy -A FORWARD -i br42 -o br42 -j ACCEPT
}

# Packets the FORWARD rule for the bridge's ports accepted so far (0 without netfilter).
bridge_accepted() {
	if [ "$rxcost_netfilter" = none ]; then
		echo 0
		return
	fi
	ip netns exec b iptables-legacy -L FORWARD -v -x -n | awk '$3 == "ACCEPT" && $6 == "br42" && $7 == "br42" { print $1 }'
}

# The fast path's hits so far (0 without the series).
fpmap_hits() {
	if [ -r /proc/net/fpmap_stat ]; then
		sed -n 's/^hits[: ]*\([0-9]*\).*/\1/p' /proc/net/fpmap_stat | head -n 1
	else
		echo 0
	fi
}

fastpath() {
	[ "$rxcost_kernel" = series ] || return 0
	sysctl -qw net.core.fpmap_enable="$1" || fail "sysctl net.core.fpmap_enable=$1"
}

echo "guest: boot $rxcost_boot, kernel $rxcost_kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime) s" >>"$log"
insmod "$rxcost_ko" || fail "insmod $rxcost_ko"
t0=$(cut -d' ' -f1 /proc/uptime)
sh "$rxcost_topology" >>"$log" 2>&1 || fail "topology.sh"
echo "guest: boot $rxcost_boot: topology from $t0 s to $(cut -d' ' -f1 /proc/uptime) s" >>"$log"
ip netns exec b sh -c 'echo sock 5001 >/proc/rxcost' || fail "socket in b"
ip netns exec c42 sh -c 'echo sock 5002 >/proc/rxcost' || fail "socket in c42"
if [ "$rxcost_netfilter" != none ]; then
	docker_ruleset >>"$log" 2>&1 || fail "the Docker-like ruleset"
	[ "$(bridge_accepted)" = 0 ] || fail "no FORWARD rule for br42's ports"
fi

host="run eth0 $rxcost_batch $rxcost_rounds $host_frame 5001"
# overlay_run ROUNDS: the module's command for the overlay case.
overlay_run() { echo "run eth0 $rxcost_batch $1 $host_frame 4789 42 $inner_frame 5002"; }
overlay=$(overlay_run "$rxcost_rounds")
if [ -n "${rxcost_profile:-}" ]; then
	[ "$rxcost_kernel" = series ] || fail "profile: the series' kernel only"
	rep=1
	while [ "$rep" -le "$rxcost_reps" ]; do
		# The order turns each repetition, as below.
		cases="on off"
		[ $((rep % 2)) = 1 ] || cases="off on"
		for c in $cases; do
			if [ "$c" = on ]; then fastpath 1; else fastpath 0; fi
			# Unmarked first: the fast path's first batch inserts, the caches warm.
			ip netns exec b sh -c "echo $(overlay_run 100) >/proc/rxcost" ||
				fail "profile: warm-up refused"
			echo "start overlay-$c $rep" >>/run/out/marks
			measure "overlay-$c" b "$overlay"
			echo "end overlay-$c $rep" >>/run/out/marks
		done
		rep=$((rep + 1))
	done
	sed "s/^/boot=$rxcost_boot fpmap_stat: /" /proc/net/fpmap_stat >>"$log"
	echo "boot=$rxcost_boot kernel=$rxcost_kernel done uptime=$(cut -d' ' -f1 /proc/uptime)" >>"$out"
	/bin/busybox poweroff -f
fi
rep=1
while [ "$rep" -le "$rxcost_reps" ]; do
	# The order turns each repetition, so that no case always runs first.
	if [ $((rep % 2)) = 1 ]; then
		measure host b "$host"
		fastpath 0
		measure overlay b "$overlay"
		if [ "$rxcost_kernel" = series ]; then
			fastpath 1
			measure overlay-on b "$overlay"
			fastpath 0
		fi
	else
		if [ "$rxcost_kernel" = series ]; then
			fastpath 1
			measure overlay-on b "$overlay"
		fi
		fastpath 0
		measure overlay b "$overlay"
		measure host b "$host"
	fi
	rep=$((rep + 1))
done
if [ -r /proc/net/fpmap_stat ]; then
	sed "s/^/boot=$rxcost_boot fpmap_stat: /" /proc/net/fpmap_stat >>"$log"
fi
echo "boot=$rxcost_boot kernel=$rxcost_kernel done uptime=$(cut -d' ' -f1 /proc/uptime)" >>"$out"
/bin/busybox poweroff -f
