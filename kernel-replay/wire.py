"""The injector: an AF_PACKET socket on the NIC's peer (wire0, in the wire namespace). A frame sent
on it arrives at the NIC as a received frame; whatever the host transmits on the NIC is read back
from it. A thread moves what is read into the replay's queue as ("<wire>", bytes).

The socket is made inside the wire namespace by setns(2) on this thread alone, and the thread
goes back at once: a socket stays in the namespace it was made in.
"""
import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
WIRE = "<wire>"


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def open_packet_socket(netns, ifname):
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        setns(target)
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((ifname, ETH_P_ALL))
        finally:
            setns(own)
    finally:
        os.close(own)
        os.close(target)
    return s


class Wire:
    def __init__(self, netns, ifname, events):
        self.sock = open_packet_socket(netns, ifname)
        self.events = events
        self.closed = False
        self.sock.settimeout(0.2)  # so that the reader notices close()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while not self.closed:
            try:
                data, addr = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if addr[2] != PACKET_OUTGOING:  # not our own injections
                self.events.put((WIRE, data))

    def inject(self, data):
        self.sock.send(data)

    def close(self):
        self.closed = True
        self.sock.close()
