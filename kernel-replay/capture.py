"""The capture: its frames, in order, as (number, timestamp in ns, bytes).

pcap is read here (both byte orders, micro- and nanosecond stamps). pcapng is handed to tcpdump
(libpcap reads it) to be written as pcap first, so one reader serves both. Only Ethernet captures
can be replayed: a frame is injected whole into the NIC, and a Linux cooked (SLL) header is not
what was on the wire.
"""
import os
import struct
import subprocess

LINKTYPE_ETHERNET = 1
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little-endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


class CaptureError(Exception):
    pass


def as_pcap(path, workdir):
    """The path of a pcap with path's frames: path itself, or a conversion of a pcapng."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic in PCAP_MAGICS:
        return path
    if magic != PCAPNG_MAGIC:
        raise CaptureError(f"{path}: byte offset 0: not a pcap or pcapng file (magic {magic.hex()})")
    out = os.path.join(workdir, "capture.pcap")
    r = subprocess.run(["tcpdump", "-r", path, "-w", out], capture_output=True, text=True)
    if r.returncode != 0:
        raise CaptureError(f"{path}: tcpdump could not read it as pcapng: {r.stderr.strip()}")
    return out


def read_frames(path):
    """Every frame of a pcap file as (number from 1, ts_ns, bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24 or data[:4] not in PCAP_MAGICS:
        raise CaptureError(f"{path}: byte offset 0: not a pcap file")
    order, ns_per_unit = PCAP_MAGICS[data[:4]]
    link_type = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF
    if link_type != LINKTYPE_ETHERNET:
        raise CaptureError(f"{path}: link type {link_type} cannot be injected into a NIC (Ethernet only)")
    frames = []
    offset = 24
    number = 0
    while offset < len(data):
        number += 1
        if offset + 16 > len(data):
            raise CaptureError(f"{path}: frame {number}, byte offset {offset}: record header cut short")
        sec, frac, caplen, wirelen = struct.unpack(order + "IIII", data[offset:offset + 16])
        if offset + 16 + caplen > len(data):
            raise CaptureError(f"{path}: frame {number}, byte offset {offset}: {caplen} bytes announced, "
                               f"{len(data) - offset - 16} left")
        if caplen < wirelen:
            raise CaptureError(f"{path}: frame {number}, byte offset {offset}: snapped to {caplen} of "
                               f"{wirelen} bytes; a cut frame cannot be injected as it was")
        frames.append((number, sec * 1_000_000_000 + frac * ns_per_unit, data[offset + 16:offset + 16 + caplen]))
        offset += 16 + caplen
    return frames
