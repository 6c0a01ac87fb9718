"""Verdict lines (scenario-format.md "Verdicts", plus kernel-replay's `observed`, docs/kernel-replay.md),
and the two comparisons made of them: against expectations (E.jsonl), and against another verdict
file (the simulator's), frame by frame.

A line whose `observed` is `not_reproduced` or `not_injected` holds no kernel verdict: it is
counted apart, never as an agreement.
"""
import json

NO_KERNEL_VERDICT = ("not_reproduced", "not_injected")


def timestamp(ns):
    """Seconds with the trailing zeros of the fraction dropped, as sim/verdict_writer.cpp prints."""
    frac = f"{ns % 1_000_000_000:09d}".rstrip("0") or "0"
    return f"{ns // 1_000_000_000}.{frac}"


def line(**fields):
    """One JSON line; fields whose value is None are left out, the rest keep their order."""
    body = ",".join(f"{json.dumps(k)}:{v if k == 'ts' else json.dumps(v)}" for k, v in fields.items()
                    if v is not None)
    return "{" + body + "}"


def read_jsonl(path):
    out = {}
    with open(path) as f:
        for n, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                d = json.loads(text)
                out[int(d["pkt"])] = d
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{n}: not a verdict or expectation line ({e})") from None
    return out


def expectation_met(expect, got):
    """Expectation::met_by of sim/expectations.cpp: the verdict, one of the sockets, the reason if given."""
    if got.get("verdict") != expect.get("verdict"):
        return False
    socks = expect.get("sock")
    if socks is not None:
        socks = socks if isinstance(socks, list) else [socks]
        if got.get("sock") not in socks:
            return False
    return "reason" not in expect or got.get("reason") == expect["reason"]


def same_end(a, b):
    """Where two verdicts end, as the kernel can say it: deliver to the same socket, or both
    drops, or both transmits with the same mismatch or none (the tx_mismatch_* words are the
    simulator's in both). Drop reasons are tabulated apart by compare-with-model, since the
    kernel's words and the model's are not the same vocabulary."""
    if a.get("verdict") != b.get("verdict"):
        return False
    if a.get("verdict") == "transmit":
        return a.get("reason") == b.get("reason")
    return a.get("verdict") != "deliver" or a.get("sock") == b.get("sock")


def describe(v):
    if v is None:
        return "no line"
    if v.get("verdict") == "deliver":
        return f"deliver {v.get('sock')}"
    if v.get("verdict") == "transmit" and not v.get("reason"):
        return "transmit (as the host would)"
    return f"{v.get('verdict')} {v.get('reason', '')}".strip()


def check_expectations(expectations, verdicts, listed=20):
    """(checked, met, not_reproduced, lines describing each disagreement)."""
    checked = met = not_reproduced = 0
    notes = []
    for pkt in sorted(expectations):
        e, got = expectations[pkt], verdicts.get(pkt)
        checked += 1
        if got is not None and got.get("observed") in NO_KERNEL_VERDICT:
            not_reproduced += 1
            if len(notes) < listed:
                notes.append(f"  pkt {pkt}: not reproduced ({got.get('reason')}), expected {describe(e)}")
        elif got is not None and expectation_met(e, got):
            met += 1
        elif len(notes) < listed:
            notes.append(f"  pkt {pkt}: expected {describe(e)}, kernel {describe(got)} "
                         f"(observed {got.get('observed') if got else '-'})")
    return checked, met, not_reproduced, notes
