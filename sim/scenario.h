// The scenario (S.yaml, or the same as JSON), version 1: the receiving host and a timeline of
// socket and device events, per ../shared/docs/scenario-format.md and docs/scenario-extensions.md.
// Parsing checks everything that can be checked without the kernel model: keys, values, names,
// references, and each socket's lifetime along the timeline. Every error names the file and line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "address.h"
#include "frame_parser.h"
#include "input_file.h"
#include "model/netfilter.h"

namespace econsim::sim {

class ScenarioError : public InputError {
public:
	using InputError::InputError;
};

enum class RssMode { l4, l3, none };
enum class FastpathMode { off, econ, fixed };
enum class SocketProto { udp, tcp };

struct Nic {
	std::string name;
	MacAddress mac;
	Ipv4Prefix ip;
	std::size_t mtu = 1500; // extension: optional
	int line = 0;
};

// A VXLAN device's own FDB entry (extension, routed overlays): frames to mac are sent to the remote
// VTEP dst (`bridge fdb append MAC dev DEV dst IP`).
struct VxlanFdbEntry {
	MacAddress mac;
	Ipv4Address dst;
	int line = 0;
};

struct VxlanDevice {
	std::string name;
	std::uint32_t vni = 0;
	std::uint16_t port = 0;
	std::string bridge;              // empty: a routed device (it has mac and ip instead)
	std::optional<MacAddress> mac;   // extension: the device's MAC
	std::optional<Ipv4Prefix> ip;    // extension: the device's address (flannel.1's .0/32)
	std::vector<VxlanFdbEntry> fdb;  // extension: its own FDB
	bool learning = true;            // extension: false for `nolearning` (no vxlan_snoop)
	int line = 0;
};

// A static bridge FDB entry (extension): frames to mac leave through port, a device attached to the
// bridge (a VXLAN device or a container's host-side veth); dst is the remote VTEP for a VXLAN port.
struct FdbEntry {
	MacAddress mac;
	std::string port;
	std::optional<Ipv4Address> dst;
	int line = 0;
};

struct Bridge {
	std::string name;
	std::vector<FdbEntry> fdb;
	std::optional<MacAddress> mac; // extension: the bridge's own MAC and address (flannel's cni0,
	std::optional<Ipv4Prefix> ip;  // the pods' gateway)
	int line = 0;
};

struct Container {
	std::string name; // also the name of its network namespace
	std::string bridge; // empty: the host routes to the veth itself (Calico)
	std::string veth; // the host-side end, attached to bridge
	MacAddress mac;   // of the container's end
	Ipv4Prefix ip;
	std::optional<Ipv4Address> gateway;  // extension: the pod's default route
	std::optional<MacAddress> veth_mac;  // extension: the host end's MAC (Calico: ee:ee:ee:ee:ee:ee)
	bool proxy_arp = false;              // extension: the host end answers ARP for any address
	int line = 0;
};

// The host namespace's sysctls that routing reads (extension): net.ipv4.ip_forward and
// net.ipv4.conf.all.rp_filter. Absent: the kernel's defaults, 0 and 0.
struct Sysctls {
	bool ip_forward = false;
	int rp_filter = 0; // 0 off, 1 strict, 2 loose
	int line = 0;
};

enum class RouteScope { global, link, host };

// One route of the host's main table as `ip route` lists it (extension).
struct Route {
	Ipv4Prefix dst; // host bits zero
	std::optional<Ipv4Address> via;
	std::string dev;
	RouteScope scope = RouteScope::global;
	std::optional<Ipv4Address> src;
	std::string proto; // "kernel" for the connected routes addresses make; informational otherwise
	bool onlink = false;
	int line = 0;
};

// A permanent neighbour (extension): `ip neigh add IP lladdr MAC dev DEV nud permanent`.
struct Neighbour {
	Ipv4Address ip;
	MacAddress mac;
	std::string dev;
	int line = 0;
};

// A NodePort service as kube-proxy's iptables rules make it (extension): a `proto` frame to any of
// the host's own addresses on `port` is DNAT'ed to the pod `to` in nat PREROUTING (KUBE-NODEPORTS →
// KUBE-SVC-… → KUBE-SEP-…), and the backend's replies are what conntrack turns back. The replay does
// not rewrite addresses: it names the frames only the NAT decides.
struct NatRule {
	SocketProto proto = SocketProto::tcp;
	std::uint16_t port = 0;
	Endpoint to;
	int line = 0;
};

struct Host {
	std::string name;
	int cpus = 1;
	RssMode rss = RssMode::l4;
	Nic nic;
	std::vector<VxlanDevice> vxlan;
	std::vector<Bridge> bridges;
	std::vector<Container> containers;
	Sysctls sysctl;
	// Routed overlays (extension): the main table (absent: the connected routes the addresses
	// make) and the permanent neighbours.
	std::optional<std::vector<Route>> routes;
	std::vector<Neighbour> neighbours;
	// kube-proxy's NodePort DNAT rules (extension); none: the host has no NAT.
	std::vector<NatRule> nat;
	// The host namespace's filter table and conntrack (extension, host.netfilter); absent: no
	// netfilter hooks at all (no iptables table, no conntrack, no br_netfilter).
	std::optional<model::NetfilterConfig> netfilter;
};

enum class EventOp {
	socket,
	bind,
	connect,
	listen,
	close,
	link,
	flush,
	// Extensions (docs/scenario-extensions.md):
	fdb,       // set or move a bridge FDB entry
	fdb_del,   // remove one
	vni,       // change a VXLAN device's VNI
	netns_del, // tear down a container's namespace: its sockets close, its veth pair goes
	// Routed overlays:
	sysctl,    // change ip_forward and/or rp_filter
	route,     // add or replace a route of the main table
	route_del, // remove one
	neigh,     // add or replace a permanent neighbour
};

// One timeline event. Only the fields of its op are meaningful:
//   socket: sock ns proto        bind: sock addr reuseaddr reuseport     connect: sock peer
//   listen: sock backlog         close: sock        link: dev up          flush: -
//   fdb: bridge mac port dst     fdb_del: bridge mac   vni: dev vni       netns_del: ns
//   sysctl: ip_forward rp_filter (either)   route, route_del: route   neigh: neighbour
struct Event {
	std::int64_t t_ns = 0; // exact, from the decimal text; ordering and comparisons use this
	double t = 0;          // the same in seconds, for printing
	EventOp op = EventOp::flush;
	int line = 0;
	std::string sock;
	std::string ns; // a container's name, or "host"
	SocketProto proto = SocketProto::udp;
	Endpoint addr;
	bool reuseaddr = false;
	bool reuseport = false;
	Endpoint peer; // 0.0.0.0:0 disconnects (AF_UNSPEC)
	int backlog = 0;
	std::string dev;
	bool up = true;
	std::uint32_t vni = 0;
	std::string bridge;
	MacAddress mac;
	std::string port;
	std::optional<Ipv4Address> dst;
	std::optional<bool> ip_forward;
	std::optional<int> rp_filter;
	Route route;         // route_del: only dst
	Neighbour neighbour;
};

struct Scenario {
	std::string file;
	int version = 1;
	Host host;
	std::optional<FastpathMode> mode; // fastpath.mode; absent when the scenario leaves it to --mode
	std::vector<Event> events;        // sorted by time; equal times keep the file's order

	const Container *find_container(std::string_view name) const;
	const Bridge *find_bridge(std::string_view name) const;
	const VxlanDevice *find_vxlan(std::string_view name) const;
};

inline constexpr std::string_view kHostNamespace = "host";
// Its id, as OverlayHost numbers the namespaces (the containers' follow it).
inline constexpr std::uint32_t kHostNetnsId = 1;

// Throws ScenarioError. The file may be YAML or JSON.
Scenario load_scenario(const std::string &path);
// The same from text; file is only used in error messages.
Scenario parse_scenario(const std::string &text, const std::string &file);

// What the frame parser needs from the scenario: the VXLAN devices' ports and the NIC's MTU.
ParserConfig parser_config(const Scenario &scenario);

std::string_view to_string(RssMode mode);
std::string_view to_string(FastpathMode mode);
std::string_view to_string(SocketProto proto);
std::string_view to_string(EventOp op);
std::optional<FastpathMode> parse_fastpath_mode(std::string_view text); // for --mode

} // namespace econsim::sim
