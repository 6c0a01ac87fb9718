#!/bin/bash
# Replay one recording of traces/ in one mode and hold the result to what is committed:
#   off:   every expectation met: exit 0 (off is the vanilla model, so there is no --check).
#   fixed: every expectation met and no frame ending elsewhere than vanilla (--check): exit 0;
#          and the path pinned as well as the verdict: as many RX and TX frames on the fast path,
#          and as many hits refused for the MAC and for learning, as tests/traces/fast-frames.txt
#          states for the recording (that file derives each number from the recording).
#   econ:  it runs (exit 0 or 1), and the frames where it ends elsewhere than vanilla are
#          exactly those tests/traces/econ-expected.txt lists for the recording, class by
#          class (econ's end, vanilla's end), each with the bug id the replay names.
# usage: replay-recording.sh ECON_SIM RECORDING_DIR off|fixed|econ ECON_EXPECTED FAST_FRAMES
set -euo pipefail
econ_sim=${1:?usage: replay-recording.sh ECON_SIM RECORDING_DIR MODE ECON_EXPECTED FAST_FRAMES}
dir=${2:?recording directory}
mode=${3:?mode}
table=${4:?econ-expected table}
fast_table=${5:?fast-frames table}
name=$(basename "$dir")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/econ-replay-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $name, mode $mode: $*"; exit 1; }

replay() { # replay MODE VERDICTS: prints the summary to $tmp/MODE.out, returns the exit code
	local rc=0 check=--check
	[[ $1 != off ]] || check= # econ-sim refuses --check in off mode: it would compare off with off
	"$econ_sim" replay --scenario "$dir/scenario.yaml" --mode "$1" --expect "$dir/expect.jsonl" $check \
		--verdicts "$2" --no-progress "$dir/trace.pcap" >"$tmp/$1.out" 2>"$tmp/$1.err" || rc=$?
	cat "$tmp/$1.out" "$tmp/$1.err"
	return $rc
}

# The fast path's use in fixed mode against fast-frames.txt: "<recording> <rx fast> <tx fast>
# <hits refused for the MAC> <hits refused for learning>". The summary prints the refusals only
# when one is not 0, so no such line means 0 and 0.
check_fast_path() {
	local want got paths refused
	want=$(awk -v r="$name" '$1 == r { print $2, $3, $4, $5 }' "$fast_table")
	[[ -n $want ]] || fail "no line for this recording in $(basename "$fast_table")"
	refused=$(sed -nE 's/^  hits refused for the MAC ([0-9]+), for learning ([0-9]+),.*/\1 \2/p' "$tmp/fixed.out")
	got="$(grep -c '"dir":"rx".*"path":"fast"' "$tmp/fixed.jsonl" || true)"
	got+=" $(grep -c '"dir":"tx".*"path":"fast"' "$tmp/fixed.jsonl" || true) ${refused:-0 0}"
	paths=$(sed -nE 's/^paths: .*fast ([0-9]+).*/\1/p' "$tmp/fixed.out") # no "fast" when none
	paths=${paths:-0}
	read -r rx tx _ <<<"$got"
	[[ $paths == $((rx + tx)) ]] || fail "the summary counts $paths fast frames, the verdict file $((rx + tx))"
	[[ $got == "$want" ]] ||
		fail "fast path: rx fast, tx fast, refused for the MAC, for learning: $got; $(basename "$fast_table") says $want"
	echo "fast path as committed: $rx rx and $tx tx frames fast, hits refused for the MAC and for learning: ${refused:-0 0}"
}

frames=$(grep -c '' "$dir/expect.jsonl" || true)
rc=0
replay "$mode" "$tmp/$mode.jsonl" || rc=$?

if [[ $mode != econ ]]; then
	((rc == 0)) || fail "exit $rc, not 0"
	grep -q "^expectations: $frames checked, $frames met, 0 unmet$" "$tmp/$mode.out" ||
		fail "not all $frames expectations met"
	if [[ $mode == fixed ]]; then
		grep -q '^check against vanilla: 0 mismatches$' "$tmp/$mode.out" || fail "--check mismatches"
		check_fast_path
	fi
	echo "PASS: $name, mode $mode: $frames expectations met$([[ $mode == off ]] || echo ", 0 mismatches")"
	exit 0
fi

((rc == 0 || rc == 1)) || fail "exit $rc, not 0 or 1"
rc=0
replay off "$tmp/off.jsonl" >/dev/null || rc=$?
((rc == 0)) || fail "the off-mode replay beside it exited $rc"

# Where each frame ended, one line per frame: the key the replay compares (deliver:SOCK,
# drop:REASON, transmit[:REASON], ignore) and the end as shown here (the key, and a delivery's
# reason, such as b14_closed_socket).
ends() {
	sed -E 's/.*"verdict":"([a-z]+)"(,"sock":"([^"]*)")?(,"reason":"([^"]*)")?.*/\1|\3|\5/' "$1" |
		awk -F'|' '{
			key = $1
			if ($1 == "deliver") key = key ":" $2
			else if ($1 != "ignore" && $3 != "") key = key ":" $3
			shown = key
			if ($1 == "deliver" && $3 != "") shown = shown ":" $3
			print key, shown
		}'
}
ends "$tmp/econ.jsonl" >"$tmp/econ.ends"
ends "$tmp/off.jsonl" >"$tmp/off.ends"
[[ $(wc -l <"$tmp/econ.ends") == $(wc -l <"$tmp/off.ends") ]] || fail "the two replays have different frame counts"

# The classes of disagreement the replay produced: "<frames> <econ end> <vanilla end>".
paste -d ' ' "$tmp/econ.ends" "$tmp/off.ends" | awk '$1 != $3 { print $2, $4 }' | sort | uniq -c |
	awk '{ print $1, $2, $3 }' | sort -k2 >"$tmp/got"
# And those committed: "<recording> <frames> <econ end> <vanilla end> <bug id>", or "<recording> 0".
awk -v r="$name" '$1 == r && $2 != 0 { print $2, $3, $4 }' "$table" | sort -k2 >"$tmp/want"
grep -q "^$name " "$table" || fail "no line for this recording in $table"

total=$(awk '{ n += $1 } END { print n + 0 }' "$tmp/got")
printed=$(sed -nE 's/^check against vanilla: ([0-9]+) mismatches$/\1/p' "$tmp/econ.out")
[[ $printed == "$total" ]] || fail "the summary counts $printed mismatches, the verdict files $total"

if ! diff -u "$tmp/want" "$tmp/got"; then
	fail "econ mode's disagreements changed (- committed in $(basename "$table"), + this replay)"
fi

# "econ → deliver s1 (b14_closed_socket) [fast], vanilla → drop (no_socket)  [cause]": the end
# after "$1 → " as ends() shows it (a socket name never starts with "[": "held [slow]" has none).
shown_end() {
	sed -E "s/.*$1 → ([a-z]+)( ([^ ([][^ ]*))?( \\(([a-z0-9_]+)\\))?( \\[[a-z]+\\])?(,| +\\[).*/\\1:\\3:\\5/" <<<"$2" |
		sed -E 's/:+$//; s/::/:/'
}

# Each listed mismatch names a cause in brackets; it must begin with the bug id the table gives
# its class.
while IFS= read -r line; do
	econ_end=$(shown_end econ "$line")
	vanilla_end=$(shown_end vanilla "$line")
	cause=$(sed -E 's/.*  \[(.*)\]$/\1/' <<<"$line") # after the two spaces: vanilla's end may show no path
	bug=$(awk -v r="$name" -v e="$econ_end" -v v="$vanilla_end" '$1 == r && $3 == e && $4 == v { print $5 }' "$table")
	[[ -n $bug ]] || fail "listed mismatch of no committed class: $line"
	[[ $cause == "$bug"* ]] || fail "the replay names '$cause' where $(basename "$table") says $bug: $line"
done < <(grep -E '^  pkt [0-9]+: econ → ' "$tmp/econ.out")

echo "PASS: $name, mode econ: $total disagreements with vanilla, as committed"
