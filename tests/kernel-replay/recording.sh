#!/bin/bash
# kernel-replay on the host kernel against a recording of traces/: the kernel's verdicts must meet
# the recording's expectations on at least MIN_PERMILLE/1000 of its expected frames (issue 14: 999),
# the verdict file must hold one line per frame, in order, and no namespace may be left behind.
#   recording.sh ECON_SIM TRACES_DIR NAME [MIN_PERMILLE]
# Exits 77 (skipped) where network namespaces cannot be made.
set -euo pipefail
econ_sim=${1:?usage: recording.sh ECON_SIM TRACES_DIR NAME [MIN_PERMILLE]} traces=$2 name=$3 min=${4:-999}
source "$(dirname "$0")/needs-netns.sh"
command -v cc >/dev/null || skip "no C compiler for the agents"

tmp=$(mktemp -d /tmp/econ-kernel-replay-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dir=$traces/$name
rc=0
"$econ_sim" kernel-replay --scenario "$dir/scenario.yaml" --expect "$dir/expect.jsonl" --verdicts "$tmp/v.jsonl" \
	"$dir/trace.pcap" >"$tmp/out" 2>&1 &
pid=$!
wait $pid || rc=$?
cat "$tmp/out"
((rc != 77)) || skip "kernel-replay could not make namespaces"
((rc <= 1)) || fail "kernel-replay exited $rc"
! ip netns list | grep -q "^ekr$pid-" || fail "namespaces ekr$pid-* left behind"

frames=$(grep -o ', [0-9]* frames in' "$tmp/out" | grep -o '[0-9]*')
[[ $(wc -l <"$tmp/v.jsonl") == "$frames" ]] || fail "$frames frames but $(wc -l <"$tmp/v.jsonl") verdict lines"
awk -F'"pkt":' '{ split($2, a, ","); if (a[1] != NR) { print "FAIL: line " NR " is pkt " a[1]; exit 1 } }' "$tmp/v.jsonl"

read -r checked met unmet unreproduced < <(sed -n \
	's/^expectations: \([0-9]*\) checked, \([0-9]*\) met, \([0-9]*\) unmet, \([0-9]*\) not reproduced$/\1 \2 \3 \4/p' "$tmp/out")
[[ -n ${checked:-} ]] || fail "no expectations line"
((checked > 0)) || fail "nothing checked"
((met * 1000 >= checked * min)) || fail "$met of $checked expectations met, below $min per mille"
echo "PASS: $name: $met of $checked expectations met ($unmet unmet, $unreproduced not reproduced), $frames frames"
