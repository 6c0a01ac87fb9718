"""The scenario (../shared/docs/scenario-format.md v1 and docs/scenario-extensions.md), read as far as
building a host in namespaces needs.

Validation stays with the simulator's parser (sim/scenario.cpp): kernel-replay runs `econ-sim
replay` on the scenario first only when asked to compare, so this reader checks what it uses and
names the file and line of what it cannot use. Times are read exactly from their text as integer
nanoseconds (never through a float), as sim/scenario.cpp does, so an event and a frame at the same
instant order the same way: the event first.
"""
import ipaddress
from dataclasses import dataclass, field

import yaml


class ScenarioError(Exception):
    pass


@dataclass
class Container:
    name: str
    bridge: str | None  # None: a routed pod (Calico), whose host end is routed to, not bridged
    veth: str
    mac: str
    ip: str  # address/prefix
    gateway: str | None = None  # the pod's default route (routed topologies)
    veth_mac: str | None = None  # the host end's MAC (Calico's ee:ee:ee:ee:ee:ee)
    proxy_arp: bool = False  # on the host end


CTSTATES = ("invalid", "new", "related", "established")  # as iptables lists them (libxt_conntrack)


@dataclass
class FilterRule:
    """A rule of host.netfilter.forward.rules: its matches (None: not matched on) and its target."""
    line: int
    target: str  # accept | drop
    proto: str | None = None  # udp | tcp
    src: str | None = None  # a prefix, as iptables lists it (10.0.0.1/32)
    dst: str | None = None
    sport: int | None = None
    dport: int | None = None
    in_dev: str | None = None
    out_dev: str | None = None
    ctstate: tuple = ()  # of CTSTATES, in their order


@dataclass
class Netfilter:
    """host.netfilter (docs/scenario-extensions.md, "Netfilter"): the host namespace's br_netfilter
    switch, conntrack's UDP timeouts (seconds; None: the kernel's) and its FORWARD chain."""
    line: int
    bridge_nf_call_iptables: bool
    udp_timeout: int | None
    udp_timeout_stream: int | None
    policy: str  # accept | drop
    rules: list  # of FilterRule, in order


@dataclass
class Scenario:
    path: str
    nic_name: str
    nic_mac: str
    nic_ip: str  # address/prefix
    nic_mtu: int
    vxlan: list  # dicts: name, vni, port, bridge (None: routed), mac, ip, fdb (list of {mac, dst}), learning
    bridges: list  # dicts: name, mac, ip, fdb (list of dicts: mac, port, dst or None)
    containers: list
    events: list  # dicts with "t_ns", "line" and the event's keys, in time order
    socket_proto: dict = field(default_factory=dict)  # socket name -> udp|tcp
    # The routed keys (docs/scenario-extensions.md, "Routed overlays and fragments"); None or
    # empty in a bridged scenario.
    sysctl: dict | None = None  # {"ip_forward": bool, "rp_filter": int}
    routes: list = field(default_factory=list)  # dicts: dst, via, dev, scope, src, proto, onlink
    neighbours: list = field(default_factory=list)  # dicts: ip, mac, dev
    cpus: int = 1  # host.cpus and host.rss: the CPU the NIC gives a received frame (frames.rss_cpu)
    rss: str = "l4"
    netfilter: Netfilter | None = None  # None: no rule, no hook (the kernel's default)

    def routed(self):
        """Whether the host routes to its pods (flannel, Calico) rather than only bridging them."""
        return bool(self.routes)

    def container(self, name):
        return next((c for c in self.containers if c.name == name), None)


def _plain(node, path):
    """A composed YAML node as dicts, lists and strings; each dict gets its line as "line"."""
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_plain(n, path) for n in node.value]
    if isinstance(node, yaml.MappingNode):
        out = {"line": node.start_mark.line + 1}
        for k, v in node.value:
            out[k.value] = _plain(v, path)
        return out
    raise ScenarioError(f"{path}:{node.start_mark.line + 1}: aliases and tags are not read")


def time_ns(text, where):
    """Seconds as written ("1764150000.0001") -> integer nanoseconds, exactly."""
    whole, _, frac = str(text).partition(".")
    if not whole.isdigit() or (frac and (not frac.isdigit() or len(frac) > 9)):
        raise ScenarioError(f"{where}: time '{text}' is not seconds with at most 9 decimals")
    return int(whole) * 1_000_000_000 + int(frac.ljust(9, "0") or 0)


def _need(d, key, where):
    if key not in d:
        raise ScenarioError(f"{where}:{d.get('line', '?')}: '{key}' missing")
    return d[key]


def _bool(value, where):
    if value not in ("true", "false"):
        raise ScenarioError(f"{where}: '{value}' is not true or false")
    return value == "true"


def _keys(d, allowed, what, where):
    unknown = sorted(set(d) - set(allowed) - {"line"})
    if unknown:
        raise ScenarioError(f"{where}:{d['line']}: {what}: unknown key '{unknown[0]}' (allowed: {', '.join(allowed)})")


def _choice(d, key, choices, what, where):
    value = d[key]
    if value not in choices:
        raise ScenarioError(f"{where}:{d['line']}: {what}.{key}: '{value}' is not one of {'|'.join(choices)}")
    return value


def _integer(d, key, low, high, what, where):
    value = d[key]
    if not isinstance(value, str) or not value.isdigit() or not low <= int(value) <= high:
        raise ScenarioError(f"{where}:{d['line']}: {what}.{key}: '{value}' is not an integer from {low} to {high}")
    return int(value)


def _netfilter(nf, path, devices, line):
    """host.netfilter, checked as sim/scenario_netfilter.cpp checks it, with the file and line."""
    if not isinstance(nf, dict):
        raise ScenarioError(f"{path}:{line}: host.netfilter must be a mapping")
    _keys(nf, ("bridge_nf_call_iptables", "conntrack", "forward"), "host.netfilter", path)
    call = _bool(nf["bridge_nf_call_iptables"], f"{path}:{nf['line']}: host.netfilter.bridge_nf_call_iptables") \
        if "bridge_nf_call_iptables" in nf else False
    timeouts = {"udp_timeout": None, "udp_timeout_stream": None}
    if "conntrack" in nf:
        ct = nf["conntrack"]
        if not isinstance(ct, dict):
            raise ScenarioError(f"{path}:{nf['line']}: host.netfilter.conntrack must be a mapping")
        _keys(ct, tuple(timeouts), "host.netfilter.conntrack", path)
        for key in timeouts:
            if key in ct:  # whole seconds, as sim/scenario_netfilter.cpp (at most 30 days)
                timeouts[key] = _integer(ct, key, 1, 30 * 24 * 3600, "host.netfilter.conntrack", path)
    forward = _need(nf, "forward", path)
    if not isinstance(forward, dict):
        raise ScenarioError(f"{path}:{nf['line']}: host.netfilter.forward must be a mapping")
    _keys(forward, ("policy", "rules"), "host.netfilter.forward", path)
    _need(forward, "policy", path)
    policy = _choice(forward, "policy", ("accept", "drop"), "host.netfilter.forward", path)
    rules = forward.get("rules") or []
    if not isinstance(rules, list):
        raise ScenarioError(f"{path}:{forward['line']}: host.netfilter.forward.rules must be a list")
    out = []
    for i, r in enumerate(rules):
        what = f"host.netfilter.forward.rules[{i}]"
        if not isinstance(r, dict):
            raise ScenarioError(f"{path}:{forward['line']}: {what} must be a mapping")
        _keys(r, ("proto", "src", "dst", "sport", "dport", "in", "out", "ctstate", "target"), what, path)
        _need(r, "target", path)
        rule = FilterRule(line=r["line"], target=_choice(r, "target", ("accept", "drop"), what, path))
        if "proto" in r:
            rule.proto = _choice(r, "proto", ("udp", "tcp"), what, path)
        for key in ("sport", "dport"):
            if key in r:
                if rule.proto is None:  # iptables: --dport needs -p udp or -p tcp
                    raise ScenarioError(f"{path}:{r['line']}: {what}.{key} needs 'proto' (iptables: --{key} needs -p)")
                setattr(rule, key, _integer(r, key, 0, 65535, what, path))
        for key in ("src", "dst"):
            if key in r:
                try:
                    net = ipaddress.IPv4Network(r[key], strict=False) if isinstance(r[key], str) else None
                except ValueError:
                    net = None
                if net is None:
                    raise ScenarioError(f"{path}:{r['line']}: {what}.{key}: '{r[key]}' is not an IPv4 address "
                                        f"or prefix")
                # iptables lists a prefix with its length (10.0.0.1/32), and no match at all for /0.
                setattr(rule, key, str(net) if net.prefixlen else None)
        for key, attr in (("in", "in_dev"), ("out", "out_dev")):
            if key in r:
                if r[key] not in devices:
                    raise ScenarioError(f"{path}:{r['line']}: {what}.{key}: '{r[key]}' is not a device of the host "
                                        f"namespace ({', '.join(sorted(devices))})")
                setattr(rule, attr, r[key])
        if "ctstate" in r:
            states = r["ctstate"]
            if not isinstance(states, list) or not states:
                raise ScenarioError(f"{path}:{r['line']}: {what}.ctstate must be a list of at least one of "
                                    f"{'|'.join(CTSTATES)}")
            for state in states:
                if state not in CTSTATES:
                    raise ScenarioError(f"{path}:{r['line']}: {what}.ctstate: '{state}' is not one of "
                                        f"{'|'.join(CTSTATES)}")
            rule.ctstate = tuple(s for s in CTSTATES if s in states)
        out.append(rule)
    return Netfilter(line=nf["line"], bridge_nf_call_iptables=call, udp_timeout=timeouts["udp_timeout"],
                     udp_timeout_stream=timeouts["udp_timeout_stream"], policy=policy, rules=out)


def load(path):
    try:
        with open(path) as f:
            root = _plain(yaml.compose(f), path)
    except (OSError, yaml.YAMLError) as e:
        raise ScenarioError(f"{path}: {e}") from None
    if not isinstance(root, dict):
        raise ScenarioError(f"{path}: not a mapping")
    host = _need(root, "host", path)
    nic = _need(host, "nic", path)
    where = lambda d: f"{path}:{d.get('line', '?')}"  # noqa: E731
    vxlan = []
    for v in host.get("vxlan") or []:
        if "bridge" not in v and "ip" not in v:
            raise ScenarioError(f"{where(v)}: a VXLAN device needs a bridge or (routed) an ip")
        fdb = [{"mac": _need(e, "mac", path).lower(), "dst": _need(e, "dst", path)} for e in v.get("fdb") or []]
        vxlan.append({"name": _need(v, "name", path), "vni": int(_need(v, "vni", path)),
                      "port": int(_need(v, "port", path)), "bridge": v.get("bridge"),
                      "mac": (v.get("mac") or "").lower() or None, "ip": v.get("ip"), "fdb": fdb,
                      "learning": _bool(v["learning"], where(v)) if "learning" in v else True})
    bridges = []
    for b in host.get("bridges") or []:
        fdb = [{"mac": _need(e, "mac", path).lower(), "port": _need(e, "port", path), "dst": e.get("dst")}
               for e in b.get("fdb") or []]
        bridges.append({"name": _need(b, "name", path), "fdb": fdb, "mac": (b.get("mac") or "").lower() or None,
                        "ip": b.get("ip")})
    containers = []
    for c in host.get("containers") or []:
        if "bridge" not in c and "veth_mac" not in c:
            raise ScenarioError(f"{where(c)}: a container needs a bridge or (routed) a veth_mac")
        containers.append(Container(_need(c, "name", path), c.get("bridge"), _need(c, "veth", path),
                                    _need(c, "mac", path).lower(), _need(c, "ip", path), c.get("gateway"),
                                    (c.get("veth_mac") or "").lower() or None,
                                    _bool(c["proxy_arp"], where(c)) if "proxy_arp" in c else False))
    sysctl = None
    if "sysctl" in host:
        sc = host["sysctl"]
        sysctl = {"ip_forward": _bool(sc.get("ip_forward", "false"), where(sc)),
                  "rp_filter": int(sc.get("rp_filter", "0"))}
    routes = []
    for r in host.get("routes") or []:
        _need(r, "dst", path)
        _need(r, "dev", path)
        routes.append(dict(r, onlink=_bool(r["onlink"], where(r)) if "onlink" in r else False))
    neighbours = [{"ip": _need(n, "ip", path), "mac": _need(n, "mac", path).lower(), "dev": _need(n, "dev", path)}
                  for n in host.get("neighbours") or []]
    events = []
    for order, e in enumerate(root.get("events") or []):
        op = _need(e, "op", path)
        if op not in ("socket", "bind", "connect", "listen", "close", "link", "flush", "fdb", "fdb_del",
                      "vni", "netns_del", "sysctl", "route", "route_del", "neigh"):
            raise ScenarioError(f"{where(e)}: op '{op}' is not one kernel-replay knows")
        e = dict(e, t_ns=time_ns(_need(e, "t", path), where(e)), order=order)
        for key in ("reuseaddr", "reuseport", "up", "ip_forward", "onlink"):
            if key in e:
                e[key] = _bool(e[key], where(e))
        if op == "sysctl":
            if "ip_forward" not in e and "rp_filter" not in e:
                raise ScenarioError(f"{where(e)}: a sysctl event needs ip_forward or rp_filter")
            if "rp_filter" in e and e["rp_filter"] not in ("0", "1", "2"):
                raise ScenarioError(f"{where(e)}: rp_filter '{e['rp_filter']}' is not 0, 1 or 2")
        for key in {"route": ("dst", "dev"), "route_del": ("dst",), "neigh": ("ip", "mac", "dev")}.get(op, ()):
            _need(e, key, path)
        events.append(e)
    events.sort(key=lambda e: (e["t_ns"], e["order"]))  # same instant: as written
    s = Scenario(path=path, nic_name=_need(nic, "name", path), nic_mac=_need(nic, "mac", path).lower(),
                 nic_ip=_need(nic, "ip", path), nic_mtu=int(nic.get("mtu", 1500)),
                 cpus=int(host.get("cpus", 1)), rss=str(host.get("rss", "l4")), vxlan=vxlan,
                 bridges=bridges, containers=containers, events=events, sysctl=sysctl, routes=routes,
                 neighbours=neighbours)
    if "netfilter" in host:
        devices = {s.nic_name} | {v["name"] for v in vxlan} | {b["name"] for b in bridges} | \
            {c.veth for c in containers}
        s.netfilter = _netfilter(host["netfilter"], path, devices, host["line"])
    for e in events:
        if e["op"] == "socket":
            s.socket_proto[e["sock"]] = e["proto"]
            if e["ns"] != "host" and not s.container(e["ns"]):
                raise ScenarioError(f"{where(e)}: ns '{e['ns']}' is neither host nor a container")
    return s
