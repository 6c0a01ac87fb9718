#!/usr/bin/env python3
"""econ-sim snapshot against a node built in network namespaces, replayed and checked.

    tests/snapshot/node_replay.py ECON_SIM REPO_ROOT [--keep DIR]

Builds the bridged VXLAN topology traces/record builds (traces/README.md draws it): node A (clients)
and node B (the node snapshotted) joined by an underlay veth, VNIs 42 and 43, eight containers on
node B (four per VNI; the two tenants use the same four addresses), clients on node A. The agents of
traces/src/agent.c run a 19 s script in which UDP sockets open, close and reopen every few seconds
and a TCP connection is accepted, written to and closed. `econ-sim snapshot --capture 20` runs
around it, started once the first sockets are open. Then the agents' logs are turned into the
expectations of the snapshot's own capture (traces/record's rule: a tagged frame goes to the socket
that logged its tag, or is a drop), with the agents' socket names translated to the snapshot's, and
`econ-sim replay --mode off --expect` runs on the snapshot.

Passes when the replay meets at least 99% of the expectations and every frame it does not meet is
one the snapshot's report flagged. Prints the figures. Exit 77 (skipped) without root or namespaces.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

PREFIX = f"esnap{os.getpid()}"
NODE_A_IP, NODE_B_IP = "192.168.0.1", "192.168.0.2"
NODE_A_MAC, NODE_B_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
VNIS = (42, 43)
SERVER_IPS = ("10.233.1.2", "10.233.1.3", "10.233.1.4", "10.233.1.5")
CLIENT_IP = "10.233.2.2"
CAPTURE_S = 20
made_ns, procs = [], []


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def ns_of(name):
    return f"{PREFIX}-{name}"


def new_ns(name):
    ns = ns_of(name)
    sh("ip", "netns", "add", ns)
    made_ns.append(ns)
    # No IPv6 (no MLD, ND, DAD) and an ICMP error for every drop, as traces/record does.
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
       "net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.icmp_ratemask=0")
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    return ns


def mac(prefix, vni, ip):
    return f"{prefix}:{vni & 255:02x}:" + ":".join(f"{int(b):02x}" for b in ip.split("."))


def build(containers):
    """containers: name -> (side, vni, ip). Node A and B, the underlay, per VNI a vxlan on a bridge."""
    a, b = new_ns("nodea"), new_ns("nodeb")
    sh("ip", "-n", a, "link", "add", "eth0", "address", NODE_A_MAC, "type", "veth", "peer", "name", "eth0",
       "address", NODE_B_MAC, "netns", b)
    for ns, ip, peer, peer_mac in ((a, NODE_A_IP, NODE_B_IP, NODE_B_MAC), (b, NODE_B_IP, NODE_A_IP, NODE_A_MAC)):
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", ns, "neigh", "add", peer, "lladdr", peer_mac, "dev", "eth0", "nud", "permanent")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        n = 1 if ns == a else 2
        for v in VNIS:
            sh("ip", "-n", ns, "link", "add", f"br{v}", "address", f"02:00:00:0{n}:01:{v:02x}", "type", "bridge",
               "stp_state", "0", "mcast_snooping", "0")
            sh("ip", "-n", ns, "link", "add", f"vxlan{v}", "address", f"02:00:00:0{n}:00:{v:02x}", "type", "vxlan",
               "id", str(v), "dstport", "4789", "local", ip, "remote", peer, "dev", "eth0", "nolearning")
            sh("ip", "-n", ns, "link", "set", f"vxlan{v}", "master", f"br{v}", "up")
            sh("ip", "-n", ns, "link", "set", f"br{v}", "up")
    for c, (side, v, ip) in containers.items():
        node, ns = ns_of("node" + side), new_ns(c)
        sh("ip", "-n", node, "link", "add", f"veth-{c}", "address", mac("06", v, ip), "mtu", "1450", "type", "veth",
           "peer", "name", "eth0", "address", mac("02", v, ip), "mtu", "1450", "netns", ns)
        sh("ip", "-n", node, "link", "set", f"veth-{c}", "master", f"br{v}", "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/16", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "replace", "10.233.0.0/16", "dev", "eth0", "proto", "kernel", "scope", "link",
           "src", ip, "quickack", "1")
    # Static FDB entries and neighbours: nothing is learnt or resolved while the capture runs.
    for c, (side, v, ip) in containers.items():
        for s in ("a", "b"):
            port = f"veth-{c}" if s == side else f"vxlan{v}"
            sh("bridge", "-n", ns_of("node" + s), "fdb", "add", mac("02", v, ip), "dev", port, "master", "static")
        for d, (_, dv, dip) in containers.items():
            if d != c and dv == v and dip != ip:
                sh("ip", "-n", ns_of(c), "neigh", "replace", dip, "lladdr", mac("02", v, dip), "dev", "eth0", "nud",
                   "permanent")


def scripts():
    """Agent scripts (traces/src/agent.c): sends at multiples of 20 ms, socket events at 10 mod 20."""
    containers, s = {}, {}
    for v in VNIS:
        for i, ip in enumerate(SERVER_IPS):
            c = f"c{v}{'abcd'[i]}"
            containers[c] = ("b", v, ip)
            # Port 5000 stays open but closes for a while; port 5001 churns: 2 s open, 1 s closed.
            off = 250 * i + (v - 42) * 130  # staggered so the events of the eight do not coincide
            off -= off % 20
            lines = [f"10 socket {c}p udp", f"10 bind {c}p 0.0.0.0:5000"]
            lines += [f"{6010 + off} close {c}p", f"{9010 + off} socket {c}q udp", f"{9010 + off} bind {c}q {ip}:5000"]
            t, k = 1010 + off, 0
            while t + 2000 < 18500:
                lines += [f"{t} socket {c}r{k} udp", f"{t} bind {c}r{k} 0.0.0.0:5001", f"{t + 2000} close {c}r{k}"]
                t, k = t + 3000, k + 1
            if c == "c42a":
                lines += ["10 socket t1 tcp", "10 bind t1 0.0.0.0:7000", "10 listen t1 16"]
            lines.append("19200 end")
            s[c] = lines
        k = f"k{v}"
        containers[k] = ("a", v, CLIENT_IP)
        lines = [f"0 socket {k} udp", f"0 bind {k} {CLIENT_IP}:4000"]
        for i, ip in enumerate(SERVER_IPS):
            # every server, both ports, one datagram each every 100 ms, from 2 s to 18.5 s
            lines.append(f"{2000 + 20 * i} send {k} {ip}:5000 100 165 ports 2")
        if v == 42:
            lines += [f"4000 socket kt tcp", f"4000 bind kt {CLIENT_IP}:41000", f"4000 connect kt {SERVER_IPS[0]}:7000",
                      "4100 send kt - 100 60", "11000 close kt"]
        lines.append("19100 end")
        s[k] = lines
    return containers, s


def parse_log(path):
    return [line.split() for line in open(path) if line.strip()]


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    econ_sim, root = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    keep = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--keep" else None
    if os.geteuid() != 0:
        skip("not root: network namespaces and the snapshot need it")
    if not shutil.which("ip") or not shutil.which("bridge"):
        skip("no iproute2")
    if subprocess.run(["ip", "netns", "add", PREFIX + "-probe"], capture_output=True).returncode != 0:
        skip("'ip netns add' fails here")
    # `ip netns exec` remounts /sys in a private mount namespace, which some roots (a chroot)
    # refuse; traces.record_again.udp-reopen skips there for the same reason.
    entered = subprocess.run(["ip", "netns", "exec", PREFIX + "-probe", "true"], capture_output=True, text=True)
    sh("ip", "netns", "del", PREFIX + "-probe")
    if entered.returncode != 0:
        skip(f"'ip netns exec' fails here: {entered.stderr.strip()}")
    cc = shutil.which("cc")
    if not cc:
        skip("no C compiler for the agents")

    work = tempfile.mkdtemp(prefix="econ-snap-test.")
    try:
        for src, exe, extra in (("agent.c", "agent", []), ("tagscan.c", "tagscan", ["-lpcap"])):
            sh(cc, "-O2", "-Wall", "-Werror", "-o", f"{work}/{exe}", f"{root}/traces/src/{src}", *extra)
        containers, script = scripts()
        build(containers)
        os.makedirs(f"{work}/logs")
        for c, lines in script.items():
            open(f"{work}/{c}.script", "w").write("\n".join(lines) + "\n")

        t0 = time.time() + 1.0
        agents = []
        for i, c in enumerate(script):
            out = open(f"{work}/logs/{c}.log", "w")
            p = subprocess.Popen(["ip", "netns", "exec", ns_of(c), "chrt", "-f", "10", f"{work}/agent", "-n", c,
                                  "-t", f"{t0:.6f}", "-b", str((i + 1) * 10000), f"{work}/{c}.script"],
                                 stdout=out, stderr=subprocess.STDOUT)
            agents.append(p)
            procs.append(p)
        # The snapshot starts once the servers' first sockets are open (10 ms after t0), so the
        # scenario has sockets from its start as well as ones opened during the capture.
        time.sleep(max(0.0, t0 + 0.5 - time.time()))
        snap_dir = keep or f"{work}/snap"
        snap = subprocess.run([econ_sim, "snapshot", "--out", snap_dir, "--capture", str(CAPTURE_S), "--netns",
                               ns_of("nodeb"), "--iface", "eth0"], capture_output=True, text=True)
        print(snap.stdout + snap.stderr, end="")
        failed_agents = [c for c, p in zip(script, agents) if p.wait() != 0]
        if snap.returncode != 0:
            print(f"FAIL: econ-sim snapshot exited {snap.returncode}")
            return 1
        logs = {c: parse_log(f"{work}/logs/{c}.log") for c in script}
        late = max([int(l[3]) for log in logs.values() for l in log if l[1] == "late"] + [0])
        if failed_agents or any(l[1] == "error" for log in logs.values() for l in log):
            print("FAIL: an agent failed:", failed_agents)
            for c in script:
                print(c, open(f"{work}/logs/{c}.log").read()[-2000:])
            return 1
        return check(econ_sim, work, snap_dir, containers, logs, late)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in made_ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def check(econ_sim, work, snap_dir, containers, logs, late):
    # ---- the agents' truth on the snapshot's capture (traces/record's write_expect) -------------------
    servers = [c for c, (side, _, _) in containers.items() if side == "b"]
    events = sorted((float(l[0]), c, l) for c in servers for l in logs[c])
    recv, owner_ns, dup = {}, {}, set()
    for t, c, l in events:
        if l[1] == "recv":
            if l[3] in recv:
                dup.add(l[3])
            recv[l[3]] = l[2]
        elif l[1] == "socket":
            owner_ns[l[2]] = c
        elif l[1] == "accept":
            owner_ns[l[3]] = owner_ns[l[2]]
    ev_times = [t for t, c, l in events if l[1] in ("socket", "bind", "connect", "listen", "close")]
    scan = subprocess.run([f"{work}/tagscan", f"{snap_dir}/trace.pcap", NODE_B_IP], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    frames = [l.split() for l in scan if l.startswith("F ")]
    seen = {}
    for f in frames:
        for tag in (f[8].split(",") if f[8] != "-" else []):
            seen[tag] = seen.get(tag, 0) + 1
    truth, why = {}, {"split": 0, "retransmitted": 0, "mixed": 0, "near_event": 0}
    for f in frames:
        pkt, ts = int(f[1]), float(f[2])
        tags = f[8].split(",") if f[7] == "clean" else []
        places = {recv.get(t, "-") for t in tags}
        reason = "split" if not tags else "retransmitted" if any(seen[t] > 1 or t in dup for t in tags) else \
            "mixed" if len(places) != 1 else "near_event" if any(abs(ts - e) < 0.001 for e in ev_times) else None
        if reason:
            why[reason] += 1
            continue
        truth[pkt] = places.pop()
    unattributed = " ".join(f"{k}={v}" for k, v in why.items())

    # ---- agents' socket names -> the snapshot's ---------------------------------------------------
    scenario = open(f"{snap_dir}/scenario.yaml").read()
    snap_socks = {}  # name -> (ns, proto, t of socket event)
    binds = {}
    for m in re.finditer(r'\{t: ([0-9.]+), op: (socket|bind), sock: "([^"]+)"(?:, ns: (\S+), proto: (\w+)|, addr: "([^"]+)")',
                         scenario):
        t, op, name = float(m[1]), m[2], m[3]
        if op == "socket":
            snap_socks[name] = (m[4], m[5], t)
        else:
            binds[name] = m[6]
    agent_socks = {}  # name -> (container, proto, addr, t of bind, t of close)
    for c in servers:
        proto, closed = {}, {}
        for l in logs[c]:
            if l[1] == "socket":
                proto[l[2]] = l[4]
            if l[1] == "close":
                closed[l[2]] = float(l[0])
        for l in logs[c]:
            if l[1] == "bind":
                agent_socks[l[2]] = (c, proto[l[2]], l[3], float(l[0]), closed.get(l[2], float("inf")))
    # The snapshot's socket event lies in the agent socket's life: at the snapshot's start for one
    # open then, else within a window of its bind (0.2 s is far more than a window).
    name_map = {}
    for a, (c, proto, addr, tb, tc) in agent_socks.items():
        best = None
        for s, (ns, sproto, ts) in snap_socks.items():
            if ns == ns_of(c) and sproto == proto and binds.get(s) == addr and tb - 0.2 < ts < tc:
                if best is None or abs(ts - tb) < abs(snap_socks[best][2] - tb):
                    best = s
        if best:
            name_map[a] = best
    missing = sorted(set(agent_socks) - set(name_map))
    print(f"agent sockets: {len(agent_socks)}, found in the snapshot: {len(name_map)}" +
          (f", missing: {', '.join(missing)}" if missing else ""))

    def translate(sock):
        head, _, peer = sock.partition("/")
        return name_map.get(head, "unknown:" + head) + ("/" + peer if peer else "")

    expect_path = f"{work}/expect.jsonl"
    with open(expect_path, "w") as out:
        for pkt, sock in sorted(truth.items()):
            if sock == "-":
                out.write(f'{{"pkt":{pkt},"verdict":"drop"}}\n')
            else:
                out.write(f'{{"pkt":{pkt},"verdict":"deliver","sock":"{translate(sock)}"}}\n')

    # ---- the replay -----------------------------------------------------------------------------
    verdicts_path = f"{work}/verdicts.jsonl"
    rep = subprocess.run([econ_sim, "replay", "--scenario", f"{snap_dir}/scenario.yaml", "--mode", "off",
                          "--expect", expect_path, "--verdicts", verdicts_path, "--no-progress",
                          f"{snap_dir}/trace.pcap"], capture_output=True, text=True)
    summary = [l for l in rep.stdout.splitlines() if l.startswith(("frames", "expectations"))]
    print("\n".join(summary))
    if rep.returncode not in (0, 1):
        print(rep.stdout[-3000:] + rep.stderr)
        print(f"FAIL: econ-sim replay exited {rep.returncode}")
        return 1
    got = {}
    for line in open(verdicts_path):
        pkt = int(re.search(r'"pkt":(\d+)', line)[1])
        verdict = re.search(r'"verdict":"(\w+)"', line)[1]
        sock = re.search(r'"sock":"([^"]+)"', line)
        got[pkt] = (verdict, sock[1] if sock else None)
    unmet = []
    for pkt, sock in sorted(truth.items()):
        want = ("drop", None) if sock == "-" else ("deliver", translate(sock))
        if got.get(pkt, ("missing", None))[0] != want[0] or (want[0] == "deliver" and got[pkt][1] != want[1]):
            unmet.append((pkt, want, got.get(pkt)))

    report = open(f"{snap_dir}/snapshot-report.md").read()
    flagged_text = re.search(r"^flagged-frames: (.*)$", report, re.M)[1]
    flagged = set()
    if flagged_text != "none":
        for part in flagged_text.split(","):
            lo, _, hi = part.partition("-")
            flagged.update(range(int(lo), int(hi or lo) + 1))
    unflagged = [u for u in unmet if u[0] not in flagged]
    checked = len(truth)
    agree = (checked - len(unmet)) / checked if checked else 0.0
    deliveries = sum(1 for s in truth.values() if s != "-")
    print(f"node: {len(servers)} containers on VNIs {VNIS[0]} and {VNIS[1]}, {len(agent_socks)} server sockets; "
          f"capture {len(frames)} tagged frames of {scan[-1].split()[1]}; expectations {checked} "
          f"({deliveries} deliveries, {checked - deliveries} drops), unattributed {unattributed}; "
          f"agents at most {late} us late")
    print(f"agreement: {checked - len(unmet)}/{checked} = {100 * agree:.2f}%; unmet {len(unmet)}, of them "
          f"flagged by the report {len(unmet) - len(unflagged)}; frames flagged {len(flagged)}")
    for pkt, want, g in unmet[:20]:
        print(f"  unmet frame {pkt}: expected {want}, got {g}{'' if pkt in flagged else '  NOT FLAGGED'}")
    ok = True
    if checked < 1000 or deliveries < 500 or checked - deliveries < 100:
        print("FAIL: too few expectations for the check to mean anything")
        ok = False
    if missing:
        print("FAIL: agent sockets missing from the scenario")
        ok = False
    if agree < 0.99:
        print("FAIL: below 99% agreement")
        ok = False
    if unflagged:
        print("FAIL: frames the replay got wrong that the report did not flag")
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
