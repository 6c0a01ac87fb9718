"""The scenario (../shared/docs/scenario-format.md v1 and docs/scenario-extensions.md), read as far as
building a host in namespaces needs.

Validation stays with the simulator's parser (sim/scenario.cpp): kernel-replay runs `econ-sim
replay` on the scenario first only when asked to compare, so this reader checks what it uses and
names the file and line of what it cannot use. Times are read exactly from their text as integer
nanoseconds (never through a float), as sim/scenario.cpp does, so an event and a frame at the same
instant order the same way: the event first.
"""
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
    for e in events:
        if e["op"] == "socket":
            s.socket_proto[e["sock"]] = e["proto"]
            if e["ns"] != "host" and not s.container(e["ns"]):
                raise ScenarioError(f"{where(e)}: ns '{e['ns']}' is neither host nor a container")
    return s
