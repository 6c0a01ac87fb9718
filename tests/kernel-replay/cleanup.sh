#!/bin/bash
# kernel-replay cleans up after itself when stopped: at its time limit, and on Ctrl-C (SIGINT),
# nothing it made is left (namespaces ekr<pid>-*, its tracefs instance, its agents).
#   cleanup.sh ECON_SIM TRACES_DIR
set -euo pipefail
econ_sim=${1:?usage: cleanup.sh ECON_SIM TRACES_DIR} traces=$2
source "$(dirname "$0")/needs-netns.sh"

dir=$traces/reorder # the longest: still running when it is stopped
left_behind() {
	local pid=$1
	ip netns list | grep -q "^ekr$pid-" && { echo "namespaces"; return; }
	# This run's agents (kernel-replay/agents.py marks them), not those of other runs beside it.
	grep -qsxz "ECON_KERNEL_REPLAY_RUN=$pid" /proc/[0-9]*/environ && { echo "agents"; return; }
	unshare -m sh -c "mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; test -d /sys/kernel/tracing/instances/econ-kernel-replay-$pid" &&
		{ echo "its tracefs instance"; return; }
	return 0
}

rc=0
"$econ_sim" kernel-replay --time-limit 3 --scenario "$dir/scenario.yaml" "$dir/trace.pcap" &
pid=$!
wait $pid || rc=$?
((rc == 2)) || fail "time limit: exit $rc, not 2"
what=$(left_behind $pid)
[[ -z $what ]] || fail "time limit: $what left behind"

rc=0
"$econ_sim" kernel-replay --scenario "$dir/scenario.yaml" "$dir/trace.pcap" &
pid=$!
# Stopped once its host exists (a loaded machine may take seconds to get there), while it plays
# the capture (~20 s).
for ((i = 0; i < 300; i++)); do
	ip netns list | grep -q "^ekr$pid-host" && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
ip netns list | grep -q "^ekr$pid-host" || fail "no namespaces while running: nothing to clean up"
sleep 1
kill -INT $pid
wait $pid || rc=$?
((rc == 130)) || fail "SIGINT: exit $rc, not 130"
what=$(left_behind $pid)
[[ -z $what ]] || fail "SIGINT: $what left behind"
echo "PASS: nothing left behind at the time limit or on SIGINT"
