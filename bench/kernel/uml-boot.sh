# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # $here and $root: the sourcing script's
#
# Sourced by bench/kernel/run and bench/kernel/profile (which set $here and
# $root): one boot of a UML kernel with bench/kernel/guest.sh as init.
#
#   uml_boot LINUX CONSOLE rxcost_NAME=VALUE...
#
# The host's root read-only over hostfs, the topology of kernel-e2e, the
# guest's parameters on the kernel command line (guest.sh lists them); the
# console to CONSOLE. Returns when the guest powers off, or after UML_TIMEOUT
# seconds (default 600); UML_MEM is the kernel's memory (default 512M).
uml_boot() {
	local linux=$1 console=$2 umldir rc=0
	shift 2
	umldir=$(mktemp -d /tmp/econ-sim-uml.XXXXXX)
	# The kernel's memory is a file in TMPDIR: tmpfs, not the disk.
	TMPDIR=/dev/shm timeout --kill-after=10 "${UML_TIMEOUT:-600}" \
		"$linux" mem="${UML_MEM:-512M}" rootfstype=hostfs rootflags=/ ro \
		init="$here/guest.sh" uml_dir="$umldir" con=null con0=null,fd:1 quiet \
		rxcost_topology="$root/kernel-port/kernel-e2e/topology.sh" "$@" \
		</dev/null >"$console" 2>&1 || rc=$?
	rm -rf "$umldir"
	return "$rc"
}
