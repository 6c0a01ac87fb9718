#!/bin/bash
# econ-sim snapshot of the machine the tests run on, whatever it has: it must exit 0, write its
# three files, and the scenario must replay (its own capture, 2 s of whatever the NIC carries) in
# every mode. The report's four sections must be there. Exits 77 (skipped) when not root.
set -euo pipefail
econ_sim=${1:?usage: this-machine.sh ECON_SIM}
[[ $(id -u) == 0 ]] || { echo "SKIP: econ-sim snapshot needs root"; exit 77; }
out=$(mktemp -d /tmp/econ-snap-host.XXXXXX)
trap 'rm -rf "$out"' EXIT

for capture in 0 2; do
	dir=$out/capture-$capture
	"$econ_sim" snapshot --out "$dir" --capture "$capture" || { echo "FAIL: snapshot --capture $capture exited $?"; exit 1; }
	for f in scenario.yaml trace.pcap snapshot-report.md; do
		[[ -s $dir/$f ]] || { echo "FAIL: $dir/$f missing or empty"; exit 1; }
	done
	for section in "## What it found" "## What it could not represent" "## What it may have missed" "flagged-frames: "; do
		grep -q "^$section" "$dir/snapshot-report.md" || { echo "FAIL: the report has no '$section'"; exit 1; }
	done
	for mode in off econ fixed; do
		rc=0
		"$econ_sim" replay --scenario "$dir/scenario.yaml" --mode $mode --no-progress "$dir/trace.pcap" >"$dir/replay-$mode.txt" 2>&1 || rc=$?
		# 1 would be a disagreement with --expect/--check, which are not asked: only 0 is right.
		((rc == 0)) || { cat "$dir/replay-$mode.txt"; echo "FAIL: replay --mode $mode of the snapshot exited $rc"; exit 1; }
	done
	echo "capture $capture s: $(head -1 "$dir/replay-off.txt" | cut -c1-60)... $(grep -m1 '^frames' "$dir/replay-off.txt")"
done
echo "PASS: the snapshot of this machine loads and replays in every mode"
