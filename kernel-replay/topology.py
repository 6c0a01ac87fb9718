"""The scenario's host built in network namespaces, as traces/record builds node B, and its device
events (link, fdb, fdb_del, vni, netns_del) done with iproute2.

    <prefix>-wire      the injector's side: the other end of the NIC's veth pair, no address
    <prefix>-host      the scenario's host: NIC, VXLAN devices, bridges, host-side veths
    <prefix>-c<i>      container i: eth0 (the peer of its veth), its address and MAC

Decisions where the scenario is silent (docs/kernel-replay.md lists them):
- VXLAN devices learn (the kernel's default) unless the scenario says `learning: false`, as every
  recording of traces/ does (traces/record makes them `nolearning`). A bridge FDB entry with a
  `dst` also gets that destination on the VXLAN device (its `remote` when all of a device's entries
  agree on one, else a per-MAC entry), so a frame to that MAC leaves for the VTEP the scenario says.
- Container MTU: the NIC's minus the 50 bytes VXLAN adds (1450 on a 1500-byte NIC, as recorded).
- Nothing is resolved at run time: the host gets a permanent neighbour for every outer source seen
  in the capture, each container for every inner source of its bridge and for its neighbours, so no
  ARP frame the capture does not hold is ever sent.
- In every namespace, before any interface exists: IPv6 off, and `icmp_ratemask=0` (every UDP drop
  draws its ICMP error, as in the recordings).
- A routed scenario (flannel, Calico: `routes` in the scenario) is built from its routed keys as
  traces/record's build_routed_node, build_flannel_pod and build_calico_pod build node B, with the
  same iproute2 commands: the host's sysctls before any interface; a VXLAN device with its MAC,
  address and own FDB (`bridge fdb append MAC dev DEV dst IP`) and no bridge; bridges with their MAC
  and address; Calico host ends with their MAC and proxy_arp; the scenario's routes (but the
  `proto kernel` ones, which its addresses make) and permanent neighbours, after every device is up.
  A pod with a `gateway` routes by it, with a permanent neighbour for it (its bridge's MAC, or the
  Calico host end's); the gateway of a /32 pod is on-link (`169.254.1.1 dev eth0 scope link`).
  There is then no default route on the NIC: the scenario's table is the whole table.
- Every container route has `quickack 1`, as the recorder's: every TCP segment is acknowledged at
  once, so the ACKs the capture shows come out without the delayed-ACK timer.
- host.netfilter (a Docker-like host), in the host namespace only, as traces/record sets node B's:
  net.bridge.bridge-nf-call-iptables written (the scenario's value, 0 when it does not say: the
  kernel's default is 1), the filter table's FORWARD chain loaded with iptables-restore (policy,
  then the rules in order), read back with `iptables -S FORWARD` and compared line for line, then
  conntrack's UDP timeouts. Without host.netfilter nothing of it is touched: no table, no hook.
  All of it is the namespace's, and goes with it.
"""
import ipaddress
import os
import shutil
import subprocess
import time

import wire as wirelib

VXLAN_OVERHEAD = 50
WIRE_MAC = "02:ee:ee:00:00:01"  # the injector's end, which no frame the host sends is addressed to
UNSEEN_VTEP_MAC = "02:ee:ee:00:00:02"  # the neighbour of a VTEP the capture never shows
CARRIER_WAIT = 1.0  # s: the longest a link up waits for the carrier
NETNS_DEL_WAIT = 10.0  # s: the longest netns_del waits for the kernel to remove the namespace's veth


class TopologyError(Exception):
    pass


def iptables_rule_args(rule):
    """iptables arguments after `-A FORWARD` for a FilterRule of host.netfilter, in the order
    `iptables -S` lists them (addresses, devices, protocol, then the matches as given, the target)."""
    args = []
    if rule.src:
        args += ["-s", rule.src]
    if rule.dst:
        args += ["-d", rule.dst]
    if rule.in_dev:
        args += ["-i", rule.in_dev]
    if rule.out_dev:
        args += ["-o", rule.out_dev]
    if rule.proto:
        args += ["-p", rule.proto]
    if rule.ctstate:
        args += ["-m", "conntrack", "--ctstate", ",".join(s.upper() for s in rule.ctstate)]
    if rule.sport is not None or rule.dport is not None:
        args += ["-m", rule.proto]  # the protocol's own match module carries the ports
        if rule.sport is not None:
            args += ["--sport", str(rule.sport)]
        if rule.dport is not None:
            args += ["--dport", str(rule.dport)]
    return args + ["-j", rule.target.upper()]


def forward_chain_listing(nf):
    """What `iptables -S FORWARD` lists once host.netfilter's chain is in: the policy, the rules."""
    return [f"-P FORWARD {nf.policy.upper()}"] + ["-A FORWARD " + " ".join(iptables_rule_args(r)) for r in nf.rules]


def iptables_restore_input(nf):
    """The filter table for `iptables-restore`: INPUT and OUTPUT accept with no rule (the
    scenario's netfilter has only FORWARD), FORWARD's policy and rules in order."""
    return "\n".join(["*filter", ":INPUT ACCEPT [0:0]", f":FORWARD {nf.policy.upper()} [0:0]", ":OUTPUT ACCEPT [0:0]"]
                     + ["-A FORWARD " + " ".join(iptables_rule_args(r)) for r in nf.rules] + ["COMMIT", ""])


def netfilter_sysctls(nf):
    """The host namespace's /proc/sys settings of host.netfilter: br_netfilter's switch always (the
    kernel's default is 1, so an absent or false one is written 0), the UDP timeouts it gives."""
    bridge = {"net/bridge/bridge-nf-call-iptables": "1" if nf.bridge_nf_call_iptables else "0"}
    conntrack = {}
    if nf.udp_timeout is not None:
        conntrack["net/netfilter/nf_conntrack_udp_timeout"] = str(nf.udp_timeout)
    if nf.udp_timeout_stream is not None:
        conntrack["net/netfilter/nf_conntrack_udp_timeout_stream"] = str(nf.udp_timeout_stream)
    return bridge, conntrack


def operational(ns, dev):
    """Whether the device's operstate is UP (or UNKNOWN: a device that does not keep one, as VXLAN).
    The kernel sets it from its linkwatch work, which is also where it activates the qdisc and
    the bridge enables the port: the carrier flag alone (LOWER_UP) comes before all that."""
    words = run("ip", "-n", ns, "-o", "link", "show", "dev", dev, check=False).stdout.split()
    return "state" in words and words[words.index("state") + 1] in ("UP", "UNKNOWN")


def in_namespace(netns, fn, *args):
    """fn(*args) with this thread in the namespace (setns), and back: /proc/sys/net is the
    opener's namespace's."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        wirelib.setns(target)
        try:
            return fn(*args)
        finally:
            wirelib.setns(own)
    finally:
        os.close(own)
        os.close(target)


def sysctl_in(netns, settings):
    """Writes /proc/sys settings ({"net/ipv4/icmp_ratemask": "0", ...}) inside a namespace."""
    def write():
        for key, value in settings.items():
            with open(f"/proc/sys/{key}", "w") as f:
                f.write(value)
    in_namespace(netns, write)


def modprobe(module):
    """Loads a module where the kernel has modprobe and modules; whether it worked is seen after."""
    if shutil.which("modprobe"):
        run("modprobe", module, check=False)


def run(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise TopologyError(f"{' '.join(cmd)}: {r.stderr.strip() or 'exit ' + str(r.returncode)}")
    return r


def route_replace_args(r):
    """`ip route replace` arguments for a route of the scenario (its table, or a `route` event)."""
    args = ["route", "replace", r["dst"]]
    if r.get("via"):
        args += ["via", r["via"]]
    args += ["dev", r["dev"]]
    for key in ("scope", "src", "proto"):
        if r.get(key):
            args += [key, r[key]]
    if r.get("onlink"):
        args.append("onlink")
    return args


class Host:
    def __init__(self, scenario, prefix):
        self.s = scenario
        self.prefix = prefix
        self.made = []  # namespaces made, deleted in reverse at teardown
        self.wire = f"{prefix}-wire"
        self.host = f"{prefix}-host"
        self.container_ns = {c.name: f"{prefix}-c{i}" for i, c in enumerate(scenario.containers)}
        self.fdb_port = {}  # (bridge, mac) -> port, as installed
        self.vxlan_dst = {}  # vxlan device -> its remote, when it has one
        self.admin_down = set()  # devices a link event set down
        self.vni_of = {}  # VXLAN device -> its VNI now
        self.deleted = set()  # containers whose namespace an event deleted
        self.wire_mac = WIRE_MAC
        self.nic_up = True
        self.outer_sources = {}  # ip -> mac: the host's neighbours on the NIC
        self.batches = None  # while building: {(tool, netns): [command lines]}, run in that order

    def cmd(self, tool, netns, *args):
        """An iproute2 command (tool ip or bridge) in a namespace: at once, or, while the host is
        being built, into that namespace's batch (one process per namespace, not per command: on
        a loaded machine each process costs a fifth of a second)."""
        if self.batches is None:
            return run(tool, "-n", netns, *args)
        self.batches.setdefault((tool, netns), []).append(" ".join(args))
        return None

    def run_batches(self):
        batches, self.batches = self.batches, None
        for (tool, netns), lines in batches.items():
            r = subprocess.run([tool, "-n", netns, "-batch", "-"], input="\n".join(lines) + "\n",
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise TopologyError(f"{tool} -n {netns} -batch: {r.stderr.strip()}")

    def ns_of(self, ns):
        """The namespace of a scenario ns ("host" or a container name)."""
        return self.host if ns == "host" else self.container_ns[ns]

    def _new_namespaces(self, names):
        self.made += names  # first: a batch that fails half way still leaves them to teardown
        r = subprocess.run(["ip", "-batch", "-"], input="".join(f"netns add {n}\n" for n in names),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise TopologyError(f"ip netns add: {r.stderr.strip()}")
        for name in names:
            # Before any interface exists: no IPv6 (no MLD, ND, DAD), and an ICMP error for every
            # drop (ratemask 0 exempts every type from the limits), as traces/record does.
            settings = {"net/ipv4/icmp_ratemask": "0"}
            if os.path.isdir("/proc/sys/net/ipv6"):  # a kernel built without IPv6 (--kernel vm's) has none to stop
                settings.update({"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"})
            if name == self.host and self.s.sysctl is not None:
                # The routed node's (build_routed_node): forwarding, and rp_filter for every device
                # made from now on (default) and as the minimum of all (all).
                rp = str(self.s.sysctl["rp_filter"])
                settings.update({"net/ipv4/ip_forward": "1" if self.s.sysctl["ip_forward"] else "0",
                                 "net/ipv4/conf/all/rp_filter": rp, "net/ipv4/conf/default/rp_filter": rp})
            sysctl_in(name, settings)
            self.cmd("ip", name, "link", "set", "lo", "up")

    def build(self, outer_sources, inner_sources):
        """outer_sources: {ip: mac} of the capture's rx frames; inner_sources: {bridge: {ip: mac}}."""
        s, h = self.s, self.host
        self.batches = {}
        self._new_namespaces([h, self.wire] + [self.container_ns[c.name] for c in s.containers])
        self.cmd("ip", h, "link", "add", s.nic_name, "address", s.nic_mac, "mtu", str(s.nic_mtu), "type", "veth",
                 "peer", "name", "wire0", "address", WIRE_MAC, "mtu", str(s.nic_mtu), "netns", self.wire)
        self.cmd("ip", h, "addr", "add", s.nic_ip, "dev", s.nic_name)
        self.cmd("ip", h, "link", "set", s.nic_name, "up")
        self.cmd("ip", self.wire, "link", "set", "wire0", "up")
        if not s.routed():
            # An outer source off the NIC's subnet came through a router: reach it as if on-link,
            # with the router's MAC (the frame's source MAC) as its neighbour, which is what the
            # wire showed.
            self.cmd("ip", h, "route", "add", "default", "dev", s.nic_name)
        self.outer_sources = dict(outer_sources)
        self._nic_neighbours()
        for b in s.bridges:
            mac = ["address", b["mac"]] if b["mac"] else []
            self.cmd("ip", h, "link", "add", b["name"], *mac, "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
            if b["ip"]:
                self.cmd("ip", h, "addr", "add", b["ip"], "dev", b["name"])
        nic_address = s.nic_ip.split("/")[0]
        for v in s.vxlan:
            self._add_vxlan(v, v["vni"], nic_address)
        for c in s.containers:
            self._add_container(c, inner_sources.get(c.bridge, {}) if c.bridge else {})
        for b in s.bridges:
            self.cmd("ip", h, "link", "set", b["name"], "up")
        for b in s.bridges:
            for e in b["fdb"]:
                self.fdb_replace(b["name"], e["mac"], e["port"], e["dst"])
        self._routes_and_neighbours()
        self.run_batches()
        # proxy_arp is a per-device sysctl: the device exists only once the batches have run.
        for c in s.containers:
            if c.proxy_arp:
                sysctl_in(h, {f"net/ipv4/conf/{c.veth}/proxy_arp": "1"})
        if s.netfilter is not None:
            self._netfilter(s.netfilter)

    def _netfilter(self, nf):
        """host.netfilter in the host namespace (the module docstring): once every device exists,
        before any agent or frame, so conntrack's first entries are the capture's."""
        h, where = self.host, f"{self.s.path}:{nf.line}: host.netfilter"
        bridge, conntrack = netfilter_sysctls(nf)
        knob = next(iter(bridge))
        if nf.bridge_nf_call_iptables and not in_namespace(h, os.path.exists, f"/proc/sys/{knob}"):
            # br_netfilter is a module here (it is built into some kernels: then every namespace has
            # the knob). Loaded host-wide and left loaded, as traces/record does. Not for a
            # scenario that turns it off: without the module the bridge calls no iptables.
            modprobe("br_netfilter")
        if in_namespace(h, os.path.exists, f"/proc/sys/{knob}"):
            sysctl_in(h, bridge)
        elif nf.bridge_nf_call_iptables:
            raise TopologyError(f"{where}: bridge_nf_call_iptables: the kernel has no {knob.replace('/', '.')} "
                                f"(br_netfilter: modprobe br_netfilter failed)")
        restore = shutil.which("iptables-restore")
        if restore is None:
            raise TopologyError(f"{where}: no iptables-restore here (apt-get install iptables)")
        r = subprocess.run(["ip", "netns", "exec", h, restore], input=iptables_restore_input(nf),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise TopologyError(f"{where}: iptables-restore in {h}: {r.stderr.strip() or 'exit ' + str(r.returncode)}")
        listed = run("ip", "netns", "exec", h, "iptables", "-S", "FORWARD").stdout.splitlines()
        if listed != forward_chain_listing(nf):
            raise TopologyError(f"{where}: the kernel lists FORWARD otherwise than the scenario says:\n  "
                                + "\n  ".join(listed) + "\nwanted:\n  " + "\n  ".join(forward_chain_listing(nf)))
        if conntrack:
            # Per namespace, once nf_conntrack is there (a conntrack match brings it in; a
            # module otherwise).
            knob = next(iter(conntrack))
            if not in_namespace(h, os.path.exists, f"/proc/sys/{knob}"):
                modprobe("nf_conntrack")
            if not in_namespace(h, os.path.exists, f"/proc/sys/{knob}"):
                raise TopologyError(f"{where}: conntrack: the kernel has no {knob.replace('/', '.')} "
                                    f"(nf_conntrack: modprobe nf_conntrack failed)")
            sysctl_in(h, conntrack)

    def _routes_and_neighbours(self):
        """The scenario's routes (its main table but the connected routes its addresses made) and
        its permanent neighbours, once every device exists and is up (an onlink route needs its
        device up)."""
        h = self.host
        for r in self.s.routes:
            if r.get("proto") == "kernel":
                continue
            self.cmd("ip", h, *route_replace_args(r))
        for n in self.s.neighbours:
            self.cmd("ip", h, "neigh", "replace", n["ip"], "lladdr", n["mac"], "dev", n["dev"], "nud", "permanent")

    def _nic_neighbours(self):
        """The host's permanent neighbours on the NIC: every outer source of the capture, and a VTEP
        an FDB entry names but the capture never shows. Set again after the NIC comes back up: a
        device going down flushes its neighbours, permanent ones included (neigh_ifdown)."""
        s = self.s
        for ip, mac in sorted(self.outer_sources.items()):
            self.cmd("ip", self.host, "neigh", "replace", ip, "lladdr", mac, "dev", s.nic_name, "nud", "permanent")
        for dst in sorted({e["dst"] for b in s.bridges for e in b["fdb"] if e["dst"]} - set(self.outer_sources)):
            self.cmd("ip", self.host, "neigh", "replace", dst, "lladdr", UNSEEN_VTEP_MAC, "dev", s.nic_name,
                     "nud", "permanent")

    def _add_vxlan(self, v, vni, nic_address):
        """A bridged VXLAN device (a port of its bridge), or a routed one (an address, its own FDB)."""
        self.vni_of[v["name"]] = vni
        dsts = {e["dst"] for b in self.s.bridges for e in b["fdb"] if e["port"] == v["name"] and e["dst"]}
        mac = ["address", v["mac"]] if v.get("mac") else []
        cmd = ["link", "add", v["name"], *mac, "type", "vxlan", "id", str(vni), "dstport", str(v["port"]),
               "local", nic_address, "dev", self.s.nic_name] + ([] if v["learning"] else ["nolearning"])
        if len(dsts) == 1:
            self.vxlan_dst[v["name"]] = dsts.pop()
            cmd += ["remote", self.vxlan_dst[v["name"]]]
        self.cmd("ip", self.host, *cmd)
        if v.get("bridge"):
            self.cmd("ip", self.host, "link", "set", v["name"], "master", v["bridge"], "up")
            return
        self.cmd("ip", self.host, "addr", "add", v["ip"], "dev", v["name"])
        self.cmd("ip", self.host, "link", "set", v["name"], "up")
        for e in v.get("fdb") or []:
            self.cmd("bridge", self.host, "fdb", "append", e["mac"], "dev", v["name"], "dst", e["dst"])

    def _add_container(self, c, sources):
        ns, mtu = self.container_ns[c.name], str(self.s.nic_mtu - VXLAN_OVERHEAD)
        host_mac = ["address", c.veth_mac] if c.veth_mac else []
        self.cmd("ip", self.host, "link", "add", c.veth, *host_mac, "mtu", mtu, "type", "veth", "peer", "name",
                 "eth0", "address", c.mac, "mtu", mtu, "netns", ns)
        if c.bridge:
            self.cmd("ip", self.host, "link", "set", c.veth, "master", c.bridge, "up")
        else:
            self.cmd("ip", self.host, "link", "set", c.veth, "up")
        self.cmd("ip", ns, "addr", "add", c.ip, "dev", "eth0")
        self.cmd("ip", ns, "link", "set", "eth0", "up")
        own = c.ip.split("/")[0]
        if c.gateway:
            self._pod_gateway(c, ns)
        else:
            # Containers have no default route in a bridged scenario; a peer off the subnet is
            # reached on-link.
            self.cmd("ip", ns, "route", "add", "default", "dev", "eth0", "quickack", "1")
            self.cmd("ip", ns, "route", "replace", str(ipaddress.ip_interface(c.ip).network), "dev", "eth0",
                     "proto", "kernel", "scope", "link", "src", own, "quickack", "1")
        peers = dict(sources)
        for d in self.s.containers:
            if c.bridge and d.bridge == c.bridge and d.name != c.name:
                peers.setdefault(d.ip.split("/")[0], d.mac)
        for ip, mac in sorted(peers.items()):
            if ip != own:
                self.cmd("ip", ns, "neigh", "replace", ip, "lladdr", mac, "dev", "eth0", "nud", "permanent")

    def _pod_gateway(self, c, ns):
        """A routed pod's default route by its gateway, as build_flannel_pod / build_calico_pod: the
        gateway's MAC is its bridge's (flannel's cni0) or the Calico host end's."""
        if c.bridge:
            mac = next((b["mac"] for b in self.s.bridges if b["name"] == c.bridge), None)
        else:
            mac = c.veth_mac
            self.cmd("ip", ns, "route", "add", c.gateway, "dev", "eth0", "scope", "link")
        if mac is None:
            raise TopologyError(f"{self.s.path}: container {c.name}: its gateway's MAC is not in the scenario")
        self.cmd("ip", ns, "neigh", "replace", c.gateway, "lladdr", mac, "dev", "eth0", "nud", "permanent")
        self.cmd("ip", ns, "route", "add", "default", "via", c.gateway, "dev", "eth0", "quickack", "1")

    def forward_counters(self):
        """[(what, packets)] of the host's FORWARD chain now: each rule's (its scenario line), then
        the policy's (the packets no rule decided); [] without host.netfilter or when unreadable."""
        nf = self.s.netfilter
        if nf is None:
            return []
        r = run("ip", "netns", "exec", self.host, "iptables-save", "-c", "-t", "filter", check=False)
        rules, policy = [], None
        for line in r.stdout.splitlines():
            if line.startswith(":FORWARD "):
                policy = int(line.rsplit("[", 1)[1].split(":")[0])
            elif line.startswith("[") and " -A FORWARD " in line:
                rules.append(int(line[1:].split(":")[0]))
        if r.returncode != 0 or policy is None or len(rules) != len(nf.rules):
            return []
        return [(f"rule {i + 1} ({self.s.path}:{rule.line}) -j {rule.target.upper()}", n)
                for i, (rule, n) in enumerate(zip(nf.rules, rules))] + [(f"policy {nf.policy.upper()}", policy)]

    def conntrack_entries(self):
        """The host namespace's conntrack entries now (/proc/net/nf_conntrack), or None unreadable."""
        def read():
            try:
                with open("/proc/net/nf_conntrack") as f:
                    return f.read().splitlines()
            except OSError:
                return None
        return in_namespace(self.host, read)

    # ---- device events ---------------------------------------------------------------------------
    def fdb_replace(self, bridge, mac, port, dst):
        self.cmd("bridge", self.host, "fdb", "replace", mac, "dev", port, "master", "static")
        self.fdb_port[(bridge, mac)] = port
        if dst and self.vxlan_dst.get(port) != dst:
            self.cmd("bridge", self.host, "fdb", "replace", mac, "dev", port, "dst", dst, "self", "permanent")

    def fdb_del(self, bridge, mac):
        port = self.fdb_port.pop((bridge, mac), None)
        if port is None:  # learnt, not installed: ask the bridge where it is
            for line in run("bridge", "-n", self.host, "fdb", "show", "br", bridge).stdout.splitlines():
                w = line.split()
                if w and w[0] == mac and "dev" in w:
                    port = w[w.index("dev") + 1]
                    break
        if port is not None:
            run("bridge", "-n", self.host, "fdb", "del", mac, "dev", port, "master", check=False)

    def link(self, dev, up):
        """ip link set DEV up|down. Up: the kernel raises the carrier (of a veth pair, both ends;
        of the NIC, the injector's end too) later, from its linkwatch work; until then a frame is
        dropped by a deactivated qdisc. Wait for it, up to CARRIER_WAIT, so that the frames after
        the event meet the devices as they are once up; a device that cannot get a carrier (a
        bridge with every port down) is noted, not waited for forever."""
        run("ip", "-n", self.host, "link", "set", dev, "up" if up else "down")
        (self.admin_down.discard if up else self.admin_down.add)(dev)
        if dev == self.s.nic_name:
            self.nic_up = up
            if up:
                self._nic_neighbours()
        if not up:
            return None
        ends = [(self.host, dev)] + ([(self.wire, "wire0")] if dev == self.s.nic_name else [])
        deadline = time.monotonic() + CARRIER_WAIT
        while time.monotonic() < deadline:
            if all(operational(ns, name) for ns, name in ends):
                return None
            time.sleep(0.005)
        return f"{dev}: no carrier {CARRIER_WAIT} s after it was set up"

    def set_sysctl(self, ip_forward, rp_filter):
        """The `sysctl` event: net.ipv4.ip_forward (every device's forwarding follows it:
        devinet_sysctl_forward), and rp_filter in all, default and every device of the host, since
        the kernel takes the larger of all's and the device's (IN_DEV_RPFILTER) and the devices
        were made with default's value: writing all alone could not lower it."""
        settings = {}
        if ip_forward is not None:
            settings["net/ipv4/ip_forward"] = "1" if ip_forward else "0"
        if rp_filter is not None:
            for conf in self._conf_names():
                settings[f"net/ipv4/conf/{conf}/rp_filter"] = str(rp_filter)
        sysctl_in(self.host, settings)

    def _conf_names(self):
        """all, default and every device of the host namespace (its /proc/sys/net/ipv4/conf)."""
        names = run("ip", "-n", self.host, "-o", "link", "show").stdout.splitlines()
        devices = [line.split(":")[1].strip().split("@")[0] for line in names if ":" in line]
        return ["all", "default"] + devices

    def route_replace(self, r):
        """The `route` event: ip route replace, with the route's keys. A refusal (a nexthop on a
        device that is down: ENETDOWN) is returned, as the socket events' are."""
        args = route_replace_args(r)
        got = run("ip", "-n", self.host, *args, check=False)
        return None if got.returncode == 0 else f"ip {' '.join(args)}: {got.stderr.strip()}"

    def route_del(self, dst):
        got = run("ip", "-n", self.host, "route", "del", dst, check=False)
        return None if got.returncode == 0 else f"ip route del {dst}: {got.stderr.strip()}"

    def neigh_replace(self, ip, mac, dev):
        got = run("ip", "-n", self.host, "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent",
                  check=False)
        return None if got.returncode == 0 else f"ip neigh replace {ip} dev {dev}: {got.stderr.strip()}"

    def change_vni(self, dev, vni):
        """Delete and re-create the VXLAN device with the new VNI, as an orchestrator would; the
        bridge entries that pointed at it are installed again."""
        v = next(v for v in self.s.vxlan if v["name"] == dev)
        was_down = dev in self.admin_down
        entries = [(b, m, p) for (b, m), p in self.fdb_port.items() if p == dev]
        run("ip", "-n", self.host, "link", "del", dev)
        self._add_vxlan(v, vni, self.s.nic_ip.split("/")[0])
        dst_of = {e["mac"]: e["dst"] for b in self.s.bridges for e in b["fdb"]}
        for b, m, p in entries:
            self.fdb_replace(b, m, p, dst_of.get(m))
        if was_down:  # re-created as it was: down
            return self.link(dev, False)
        return self.link(dev, True)

    def delete_container(self, name):
        """netns_del: the namespace goes, and its veth pair with it (the host end disappears once
        the kernel has cleaned the namespace up, which it does asynchronously: wait for it)."""
        ns = self.container_ns[name]
        # A TCP socket its agent left behind when it stopped (an orphan in FIN_WAIT or LAST_ACK,
        # retransmitting its FIN to a peer the capture does not play) holds the namespace, and so
        # the veth, until its retransmissions give up, minutes later; the model's namespace goes
        # at once. Destroy them first (sock_diag's SOCK_DESTROY: tcp_abort, a RST each, not in
        # the capture).
        run("ss", "-N", ns, "-K", "-t", "-a", check=False)
        run("ip", "netns", "del", ns)
        self.made.remove(ns)
        self.deleted.add(name)
        veth = self.s.container(name).veth
        # cleanup_net runs on one workqueue for every namespace of the machine being deleted (other
        # replays', other users'): at a load of 10 and more it took over 2 s (random-cases case-001).
        deadline = time.monotonic() + NETNS_DEL_WAIT
        while time.monotonic() < deadline:
            if run("ip", "-n", self.host, "link", "show", veth, check=False).returncode != 0:
                return
            time.sleep(0.01)
        raise TopologyError(f"{veth} still exists {NETNS_DEL_WAIT:.0f} s after its namespace {ns} was deleted")

    def teardown(self):
        for ns in reversed(self.made):
            run("ip", "netns", "del", ns, check=False)
        self.made = []
