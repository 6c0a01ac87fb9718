"""Which way the patched kernel's fast path took one frame, from its own counters.

The series (kernel-port/patches/, docs/kernel-patch.md "Knob and counters") keeps totals over CPUs
in /proc/net/fpmap_stat (init_net only): the map's RX table's `hits`, `misses`, `inserts`, ..., the
glue's `delivered` (fast deliveries) and one `fallback_<why>` per reason a hit was declined; for the
TX header cache (on in the replay's VM) the TX table's `tx_map_*` and the glue's `tx_sent`,
`tx_misses`, `tx_inserts`, `tx_fallback_<why>`, .... A received frame is read from the RX counters
and a transmitted one from the TX counters only: a received segment's window also holds the
container's answer, sent by the TX cache or not. kernel-replay
injects one frame at a time and waits for its outcome, so what moved between a read before and a
read after is that frame's doing (or the doing of what the frame caused, such as the answer a
container sent). On a kernel without the series there is no such file and nothing is reported.
"""
import os
from typing import NamedTuple

STAT = "/proc/net/fpmap_stat"


def read(path=STAT):
    """{name: value} of the file, or None when this kernel has no fast path (or it is off)."""
    try:
        with open(path) as f:
            values = {}
            for line in f:
                name, _, value = line.partition(" ")
                values[name] = int(value)
    except (OSError, ValueError):
        return None
    return values if values.get("enabled") == 1 else None


def present():
    return os.path.exists(STAT) and read() is not None


class _Side(NamedTuple):
    """One direction's counters: a frame the fast path took (done), a hit declined (the prefix),
    a stale entry, a miss and what may come with one; and the details' names."""
    done: str
    hit: str
    declined: str
    stale_counter: str
    stale: str
    misses: str
    miss: str
    with_miss: tuple
    # A hit the bridge's netfilter dropped (br_netfilter's FORWARD hook run on the hit): the fast
    # path took the frame, and nothing was delivered.
    dropped_on_hit: str = ""


_SIDES = {
    "rx": _Side("delivered", "hit", "fallback_", "stale", "stale", "misses", "miss",
                ("inserts", "insert_refused", "tickets_uncacheable", "insert_races", "ticket_failures"),
                "bridge_nf_dropped"),
    "tx": _Side("tx_sent", "tx_hit", "tx_fallback_", "tx_map_stale", "tx_stale", "tx_misses", "tx_miss",
                ("tx_inserts", "tx_insert_refused", "tx_ticket_failures")),
}


def outcome(before, after, direction="rx"):
    """What the fast path did between two reads for a frame of `direction` ("rx" or "tx"), as
    (path, detail). A transmitted frame: "fast" "tx_hit" when the TX cache sent it, else "slow"
    with "tx_fallback_<why>" (a hit declined), "tx_stale", "tx_miss+tx_inserts" (cached from the
    slow path's frame at the underlay), "tx_miss+tx_insert_refused", "tx_miss", or "none" (not
    looked up: the cache off, not IPv4 TCP or UDP of its socket, a fragment). A received frame:
    path "fast" when a frame was delivered by it, or dropped on a hit by the bridge's netfilter
    (detail "hit+bridge_nf_dropped": br_netfilter's FORWARD hook runs on a hit), else "slow" (None
    when there is no fast path); detail "hit", "fallback_<why>" (an entry matched, a check sent the frame the slow way), "stale"
    (an entry matched but was no longer current), "miss", "miss+inserts" (the slow path's answer was
    cached), "miss+insert_refused" (the slow path's way was not one the series caches, such as a
    learning bridge port), "miss+tickets_uncacheable" (a miss on a VXLAN device that is no
    bridge's port and does not forward: no ticket taken, issue 13 defect 6), "miss+insert_races" (an event
    during the slow path), "miss+ticket_failures", or "none" (no lookup: not a frame the fast path
    looks at)."""
    if before is None or after is None:
        return None, None
    moved = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    side = _SIDES[direction]
    if moved.get(side.done):
        return "fast", side.hit
    if side.dropped_on_hit and moved.get(side.dropped_on_hit):
        return "fast", f"{side.hit}+{side.dropped_on_hit}"
    fallbacks = sorted(k for k in moved if k.startswith(side.declined))
    if fallbacks:
        return "slow", "+".join(fallbacks)
    if moved.get(side.stale_counter):
        return "slow", side.stale
    if moved.get(side.misses):
        for counter in side.with_miss:
            if moved.get(counter):
                return "slow", f"{side.miss}+{counter}"
        return "slow", side.miss
    return "slow", "none"
