#!/bin/bash
# Every recording's scenario has a static FDB entry for each container MAC, as the recorder
# installed them on node B (traces/README.md), so the kernel never flooded: a golden trace of
# tests/sim/golden/ whose bridge stage floods, or forwards other than by an FDB entry, shows
# something the recorded kernel did not do. Also checks that each such recording's scenario
# lists an entry for every container of node B.
# usage: goldens-forward-by-fdb.sh REPO_ROOT
set -euo pipefail
root=${1:?usage: goldens-forward-by-fdb.sh REPO_ROOT}
golden=$root/tests/sim/golden
fail=0

while read -r name recording _mode _pkt; do
	[[ -z $name || $name == \#* ]] && continue
	scenario=$root/traces/$recording/scenario.yaml
	# Each container's MAC must be in an fdb entry on its veth.
	while read -r veth mac; do
		grep -q "{mac: \"$mac\", port: $veth}" "$scenario" ||
			{ echo "FAIL: $recording: no static FDB entry for $mac on $veth in scenario.yaml"; fail=1; }
	done < <(sed -nE 's/.*veth: ([^,]+), mac: "([^"]+)".*/\1 \2/p' "$scenario")
	bridge=$(grep -A1 '^  br_handle_frame ' "$golden/$name.trace" || true)
	[[ -n $bridge ]] || continue # a fast-path hit or a transmit: no bridge stage
	if grep -q 'flood' <<<"$bridge" || ! grep -q '(br_fdb_find_rcu)' <<<"$bridge"; then
		echo "FAIL: $name.trace: the bridge does not forward by the FDB:"
		echo "$bridge"
		fail=1
	fi
done <"$golden/goldens.txt"
((fail == 0)) && echo "PASS: every golden's bridge forwards by a static FDB entry, as the kernel did"
exit "$fail"
