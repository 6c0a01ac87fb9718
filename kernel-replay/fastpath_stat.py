"""Which way the patched kernel's fast path took one frame, from its own counters.

The series (kernel-port/patches/, docs/kernel-patch.md "Knob and counters") keeps totals over CPUs
in /proc/net/fpmap_stat (init_net only): the map's `hits`, `misses`, `inserts`, ..., the glue's
`delivered` (fast deliveries) and one `fallback_<why>` per reason a hit was declined. kernel-replay
injects one frame at a time and waits for its outcome, so what moved between a read before and a
read after is that frame's doing (or the doing of what the frame caused, such as the answer a
container sent). On a kernel without the series there is no such file and nothing is reported.
"""
import os

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


def outcome(before, after):
    """What the fast path did between two reads, as (path, detail):
    path "fast" when a frame was delivered by it, else "slow" (None when there is no fast path);
    detail "hit", "fallback_<why>" (an entry matched, a check sent the frame the slow way), "stale"
    (an entry matched but was no longer current), "miss", "miss+inserts" (the slow path's answer was
    cached), "miss+insert_refused" (the slow path's way was not one the series caches, such as a
    learning bridge port), "miss+tickets_unbridged" (a miss on a VXLAN device that is no bridge's
    port, a routed overlay's: no ticket taken, issue 13 defect 6), "miss+insert_races" (an event
    during the slow path), "miss+ticket_failures", or "none" (no lookup: not a frame the fast path
    looks at)."""
    if before is None or after is None:
        return None, None
    moved = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    if moved.get("delivered"):
        return "fast", "hit"
    fallbacks = sorted(k for k in moved if k.startswith("fallback_"))
    if fallbacks:
        return "slow", "+".join(fallbacks)
    if moved.get("stale"):
        return "slow", "stale"
    if moved.get("misses"):
        for counter in ("inserts", "insert_refused", "tickets_unbridged", "insert_races",
                        "ticket_failures"):
            if moved.get(counter):
                return "slow", f"miss+{counter}"
        return "slow", "miss"
    return "slow", "none"
