#include "overlay_host.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "econ_map.h"
#include "stages/nic_rx.h"

namespace econsim::sim::property {

namespace {

[[noreturn]] void bad_literal(const char *what, const char *text)
{
	std::fprintf(stderr, "overlay_host: bad %s literal %s\n", what, text);
	std::abort();
}

constexpr std::size_t kEthernet = 14, kIpv4 = 20, kUdp = 8, kVxlan = 8;

} // namespace

Ipv4Address ip(const char *text)
{
	auto parsed = parse_ipv4(text);
	if (!parsed)
		bad_literal("IPv4", text);
	return *parsed;
}

MacAddress mac(const char *text)
{
	auto parsed = parse_mac(text);
	if (!parsed)
		bad_literal("MAC", text);
	return *parsed;
}

Ipv4Address host_ip()
{
	return ip("192.168.0.2");
}

Ipv4Address subnet_broadcast()
{
	return ip("10.233.1.255");
}

const std::vector<Tenant> &tenants()
{
	static const std::vector<Tenant> all{
		{"c1", "br42", "vxlan42", "veth-c1", 42, mac("02:42:0a:e9:01:02"), ip("10.233.1.2")},
		{"c2", "br42", "vxlan42", "veth-c2", 42, mac("02:42:0a:e9:01:03"), ip("10.233.1.3")},
		{"c3", "br43", "vxlan43", "veth-c3", 43, mac("02:42:0a:e9:01:02"), ip("10.233.1.2")},
		{"c4", "br43", "vxlan43", "veth-c4", 43, mac("02:42:0a:e9:01:03"), ip("10.233.1.3")},
	};
	return all;
}

const Tenant *tenant(const std::string &container)
{
	return tenant(TopologyKind::bridged, container);
}

std::string_view to_string(TopologyKind kind)
{
	switch (kind) {
	case TopologyKind::bridged: return "bridged";
	case TopologyKind::flannel: return "flannel";
	case TopologyKind::calico: return "calico";
	}
	return "?";
}

void showValue(TopologyKind kind, std::ostream &os)
{
	os << to_string(kind);
}

const std::vector<Tenant> &tenants(TopologyKind kind)
{
	static const std::vector<Tenant> flannel{
		{"c1", "cni0", "flannel.1", "veth-c1", 42, mac("02:42:0a:e9:01:02"), ip("10.233.1.2")},
		{"c2", "cni0", "flannel.1", "veth-c2", 42, mac("02:42:0a:e9:01:03"), ip("10.233.1.3")},
	};
	static const std::vector<Tenant> calico{
		{"c1", "", "vxlan.calico", "calic1", 42, mac("02:42:0a:e9:01:02"), ip("10.233.1.2")},
		{"c2", "", "vxlan.calico", "calic2", 42, mac("02:42:0a:e9:01:03"), ip("10.233.1.3")},
	};
	switch (kind) {
	case TopologyKind::bridged: return tenants();
	case TopologyKind::flannel: return flannel;
	case TopologyKind::calico: return calico;
	}
	return tenants();
}

const Tenant *tenant(TopologyKind kind, const std::string &container)
{
	for (const Tenant &t : tenants(kind))
		if (t.container == container)
			return &t;
	return nullptr;
}

const RoutedOverlay &routed_overlay(TopologyKind kind)
{
	static const RoutedOverlay flannel{
		"flannel.1", mac("02:00:00:02:00:01"), {ip("10.233.1.0"), ip("10.233.1.1")}, ip("10.233.2.0")};
	static const RoutedOverlay calico{
		"vxlan.calico", mac("02:00:00:02:00:00"), {ip("10.233.1.1")}, ip("10.233.2.1")};
	return kind == TopologyKind::calico ? calico : flannel;
}

Ipv4Address absent_pod()
{
	return ip("10.233.1.9");
}

Ipv4Address unrouted_address()
{
	return ip("10.233.3.2");
}

const std::vector<Endpoint> &foreign_sources()
{
	static const std::vector<Endpoint> all{test::endpoint("192.168.0.7:4000"), test::endpoint("10.9.9.9:4000")};
	return all;
}

namespace {

Ipv4Prefix prefix(const char *text)
{
	auto parsed = parse_ipv4_prefix(text);
	if (!parsed)
		bad_literal("IPv4 prefix", text);
	return *parsed;
}

// `ip route replace DST dev DEV scope link`, or with a gateway `via VIA onlink` (scope global).
Route route(const char *dst, const char *dev, const char *via = nullptr)
{
	Route r;
	r.dst = prefix(dst);
	r.dev = dev;
	if (via) {
		r.via = ip(via);
		r.onlink = true;
	} else {
		r.scope = RouteScope::link;
	}
	return r;
}

// The routes a routed host starts with, as traces/record's nodes list them.
std::vector<Route> initial_routes(TopologyKind kind)
{
	if (kind == TopologyKind::flannel)
		return {route("10.233.1.0/24", "cni0"), route("10.233.2.0/24", "flannel.1", "10.233.2.0"),
			route("192.168.0.0/24", kNic)};
	return {route("10.233.1.2/32", "calic1"), route("10.233.1.3/32", "calic2"),
		route("10.233.2.0/24", "vxlan.calico", "10.233.2.1"), route("192.168.0.0/24", kNic)};
}

std::vector<Neighbour> initial_neighbours(TopologyKind kind)
{
	const RoutedOverlay &overlay = routed_overlay(kind);
	std::vector<Neighbour> neighbours{{overlay.remote_gateway, peers()[0].mac, overlay.vxlan, 0},
					  {ip("192.168.0.1"), test::kPeerMac, kNic, 0}};
	for (const Tenant &t : tenants(kind))
		neighbours.push_back({t.ip, t.mac, t.bridge.empty() ? t.veth : t.bridge, 0});
	return neighbours;
}

} // namespace

const std::vector<Route> &route_choices(TopologyKind kind)
{
	static const std::vector<Route> flannel = [] {
		std::vector<Route> routes = initial_routes(TopologyKind::flannel);
		for (Route r : {route("10.233.1.2/32", "flannel.1", "10.233.2.0"), // c1 moved to another node
				route("10.233.1.0/24", "flannel.1"),               // the pods on the wrong link
				route("0.0.0.0/0", kNic, "192.168.0.1"),           // a default route
				route("10.233.2.0/24", kNic)})                     // remote pods behind the NIC
			routes.push_back(r);
		return routes;
	}();
	static const std::vector<Route> calico = [] {
		std::vector<Route> routes = initial_routes(TopologyKind::calico);
		for (Route r : {route("10.233.1.2/32", "calic2"), // c1's route through c2's veth
				route("10.233.1.2/32", "vxlan.calico", "10.233.2.1"), route("10.233.1.9/32", "calic1"),
				route("0.0.0.0/0", kNic, "192.168.0.1"), route("10.233.2.0/24", kNic)})
			routes.push_back(r);
		return routes;
	}();
	return kind == TopologyKind::calico ? calico : flannel;
}

const std::vector<Neighbour> &neighbour_choices(TopologyKind kind)
{
	static const std::vector<Neighbour> flannel = [] {
		std::vector<Neighbour> all = initial_neighbours(TopologyKind::flannel);
		const std::vector<Tenant> &pods = tenants(TopologyKind::flannel);
		all.push_back({pods[0].ip, pods[1].mac, "cni0", 0}); // c1's address, c2's MAC
		all.push_back({pods[1].ip, pods[0].mac, "cni0", 0});
		all.push_back({absent_pod(), pods[0].mac, "cni0", 0});
		return all;
	}();
	static const std::vector<Neighbour> calico = [] {
		std::vector<Neighbour> all = initial_neighbours(TopologyKind::calico);
		const std::vector<Tenant> &pods = tenants(TopologyKind::calico);
		all.push_back({pods[0].ip, pods[1].mac, "calic1", 0});
		all.push_back({pods[0].ip, pods[0].mac, "calic2", 0}); // for the route through calic2
		all.push_back({absent_pod(), pods[0].mac, "calic1", 0});
		return all;
	}();
	return kind == TopologyKind::calico ? calico : flannel;
}

std::vector<std::string> host_devices(TopologyKind kind)
{
	switch (kind) {
	case TopologyKind::bridged: return {kNic, "vxlan42", "vxlan43", "br42", "br43"};
	case TopologyKind::flannel: return {kNic, "flannel.1", "cni0"};
	case TopologyKind::calico: return {kNic, "vxlan.calico"};
	}
	return {kNic};
}

const std::vector<Peer> &peers()
{
	static const std::vector<Peer> all{
		{test::endpoint("10.233.2.2:4000"), mac("02:42:0a:e9:02:02"), ip("192.168.0.1")},
		{test::endpoint("10.233.2.3:4000"), mac("02:42:0a:e9:02:03"), ip("192.168.0.3")},
		{test::endpoint("10.233.2.2:4001"), mac("02:42:0a:e9:02:02"), ip("192.168.0.1")},
	};
	return all;
}

namespace {

// The tenant's MAC a static entry of its bridge, on its veth.
void add_static_entry(Scenario &s, const Tenant &t)
{
	for (Bridge &b : s.host.bridges)
		if (b.name == t.bridge)
			b.fdb.push_back({t.mac, t.veth, std::nullopt, 0});
}

void add_routed_host(Scenario &s, TopologyKind kind, ContainerFdb fdb)
{
	const RoutedOverlay &overlay = routed_overlay(kind);
	VxlanDevice &v = s.host.vxlan.emplace_back();
	v.name = overlay.vxlan;
	v.vni = 42;
	v.port = kVxlanPort;
	v.mac = overlay.mac;
	v.ip = Ipv4Prefix{overlay.host_addresses.front(), 32};
	for (const Peer &p : peers())
		if (std::none_of(v.fdb.begin(), v.fdb.end(), [&](const VxlanFdbEntry &e) { return e.mac == p.mac; }))
			v.fdb.push_back({p.mac, p.vtep, 0});
	if (kind == TopologyKind::flannel) {
		Bridge &cni0 = s.host.bridges.emplace_back();
		cni0.name = "cni0";
		cni0.mac = mac("02:00:00:02:01:01");
		cni0.ip = Ipv4Prefix{overlay.host_addresses.back(), 24};
	}
	for (const Tenant &t : tenants(kind)) {
		Container &c = s.host.containers.emplace_back();
		c.name = t.container;
		c.bridge = t.bridge;
		c.veth = t.veth;
		c.mac = t.mac;
		c.ip = Ipv4Prefix{t.ip, static_cast<std::uint8_t>(kind == TopologyKind::flannel ? 24 : 32)};
		if (kind == TopologyKind::flannel) {
			c.gateway = overlay.host_addresses.back();
			if (fdb == ContainerFdb::static_entries)
				add_static_entry(s, t);
		} else {
			c.gateway = ip("169.254.1.1");
			c.veth_mac = mac("ee:ee:ee:ee:ee:ee");
			c.proxy_arp = true;
		}
	}
	s.host.sysctl = Sysctls{true, 1, 0};
	s.host.routes = initial_routes(kind);
	s.host.neighbours = initial_neighbours(kind);
}

} // namespace

model::NetfilterConfig docker_netfilter()
{
	model::NetfilterConfig nf;
	nf.bridge_nf_call_iptables = true;
	// Shorter than the shortest sleep (150 ms), which then outlives every UDP entry, and than the
	// bridges' FDB ageing (300 s, the longer sleep), which would take a hit's flow off the fast
	// path before its conntrack entry; a scenario writes whole seconds, the model takes any.
	nf.udp_timeout_ns = 100'000'000;
	nf.udp_timeout_stream_ns = 120'000'000;
	nf.forward.policy_accept = false;
	model::FilterRule replies;
	replies.ctstates = model::ct_related | model::ct_established;
	nf.forward.rules.push_back(replies);
	for (model::Protocol proto : {model::Protocol::udp, model::Protocol::tcp}) {
		model::FilterRule port;
		port.proto = proto;
		port.dport = kNetfilterDroppedPort;
		port.ctstates = model::ct_new;
		port.accept = false;
		nf.forward.rules.push_back(port);
	}
	for (const char *bridge : {"br42", "br43"}) {
		model::FilterRule between_ports;
		between_ports.in = between_ports.out = bridge;
		nf.forward.rules.push_back(between_ports);
	}
	return nf;
}

Scenario overlay_scenario(int cpus, TopologyKind kind, ContainerFdb fdb, bool netfilter)
{
	Scenario s;
	s.file = "property";
	s.host.name = "node1";
	s.host.cpus = cpus;
	s.host.rss = RssMode::l4;
	s.host.nic = Nic{kNic, test::kHostMac, Ipv4Prefix{host_ip(), 24}, 1500, 0};
	if (is_routed(kind)) {
		add_routed_host(s, kind, fdb);
		return s;
	}
	for (const char *bridge : {"br42", "br43"})
		s.host.bridges.emplace_back().name = bridge;
	for (std::uint32_t vni : {42u, 43u}) {
		VxlanDevice &v = s.host.vxlan.emplace_back();
		v.name = "vxlan" + std::to_string(vni);
		v.vni = vni;
		v.port = kVxlanPort;
		v.bridge = "br" + std::to_string(vni);
	}
	for (const Tenant &t : tenants()) {
		Container &c = s.host.containers.emplace_back();
		c.name = t.container;
		c.bridge = t.bridge;
		c.veth = t.veth;
		c.mac = t.mac;
		c.ip = Ipv4Prefix{t.ip, 24};
		if (fdb == ContainerFdb::static_entries)
			add_static_entry(s, t);
	}
	if (netfilter)
		s.host.netfilter = docker_netfilter();
	return s;
}

Bytes frame_bytes(const FrameSpec &spec)
{
	const Bytes payload{'p'};
	auto l4 = [&](Endpoint src, Endpoint dst) {
		return spec.proto == SocketProto::udp ? test::udp_packet(src, dst, payload)
						      : test::tcp_packet(src, dst, spec.tcp_flags, payload);
	};
	Bytes frame;
	if (!spec.vxlan) {
		frame = test::ethernet_frame(l4(spec.outer_src, spec.dst));
	} else {
		Bytes packet = l4(spec.src, spec.dst);
		if (spec.ttl != packet.at(8)) {
			packet.at(8) = spec.ttl;
			test::fix_ipv4_checksum(packet, 0);
		}
		Bytes inner = test::ethernet_frame(packet, 0x0800, spec.inner_dst_mac, spec.inner_src_mac);
		frame = spec.sent ? test::sent_vxlan_frame(spec.vni, inner, Endpoint{host_ip(), spec.outer_src.port},
							   Endpoint{spec.outer_src.address, kVxlanPort})
				  : test::vxlan_frame(spec.vni, inner, spec.outer_src, Endpoint{host_ip(), kVxlanPort});
	}
	const std::size_t inner_ip = kEthernet + kIpv4 + kUdp + kVxlan + kEthernet;
	switch (spec.corruption) {
	case Corruption::none: break;
	case Corruption::outer_ip_checksum: frame.at(kEthernet + 10) ^= 0xff; break;
	case Corruption::inner_ip_checksum:
		if (spec.vxlan)
			frame.at(inner_ip + 10) ^= 0xff;
		break;
	case Corruption::vxlan_flags:
		if (spec.vxlan)
			frame.at(kEthernet + kIpv4 + kUdp) = 0; // the I flag gone
		break;
	}
	return frame;
}

namespace {

void put_be16(Bytes &bytes, std::size_t at, std::size_t value)
{
	bytes.at(at) = static_cast<std::uint8_t>(value >> 8);
	bytes.at(at + 1) = static_cast<std::uint8_t>(value & 0xff);
}

// The IPv4 datagram at offset `ip` of `frame` cut after `split` payload bytes (a multiple of 8), as
// its sender's ip_fragment would: two frames, each with every header before the cut, the first
// with MF. An inner datagram's pieces get the outer IPv4 and UDP lengths of their own size.
std::vector<Bytes> cut(const Bytes &frame, std::size_t ip, std::size_t split, std::uint16_t id)
{
	const std::size_t ihl = (frame.at(ip) & 0x0fu) * 4u;
	const std::size_t payload = ip + ihl;
	const std::size_t length = (std::size_t{frame.at(ip + 2)} << 8 | frame.at(ip + 3)) - ihl;
	std::vector<Bytes> pieces;
	for (auto [from, to] : {std::pair{std::size_t{0}, split}, std::pair{split, length}}) {
		Bytes out(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(payload));
		out.insert(out.end(), frame.begin() + static_cast<std::ptrdiff_t>(payload + from),
			   frame.begin() + static_cast<std::ptrdiff_t>(payload + to));
		put_be16(out, ip + 2, ihl + to - from);
		put_be16(out, ip + 4, id);
		put_be16(out, ip + 6, (to < length ? 0x2000u : 0u) | from / 8);
		test::fix_ipv4_checksum(out, ip);
		if (ip != kEthernet) {
			put_be16(out, kEthernet + 2, out.size() - kEthernet);
			put_be16(out, kEthernet + kIpv4 + 4, out.size() - kEthernet - kIpv4);
			test::fix_ipv4_checksum(out, kEthernet);
		}
		pieces.push_back(std::move(out));
	}
	return pieces;
}

} // namespace

std::vector<Bytes> frame_pieces(const FrameSpec &spec, std::uint16_t id)
{
	Bytes whole = frame_bytes(spec);
	if (spec.fragmenting == Fragmenting::none || spec.corruption != Corruption::none)
		return {whole};
	// The inner datagram after its transport header's first 8 bytes; the outer one after UDP,
	// VXLAN and 8 bytes of the inner frame (a plain one after 8 bytes of its transport header).
	if (spec.fragmenting == Fragmenting::inner && spec.vxlan)
		return cut(whole, kEthernet + kIpv4 + kUdp + kVxlan + kEthernet, 8, id);
	return cut(whole, kEthernet, spec.vxlan ? kUdp + kVxlan + 8 : 8, id);
}

std::string tcp_flags_text(std::uint8_t flags)
{
	static const std::pair<std::uint8_t, const char *> names[] = {
		{0x02, "SYN"}, {0x01, "FIN"}, {0x04, "RST"}, {0x08, "PSH"}, {0x10, "ACK"}};
	std::string text;
	for (auto [bit, name] : names)
		if (flags & bit)
			text += (text.empty() ? "" : "|") + std::string(name);
	return text.empty() ? "none" : text;
}

namespace {

std::string mac_name(const MacAddress &m)
{
	if (m == MacAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}})
		return "broadcast";
	std::string owners;
	for (const Tenant &t : tenants())
		if (t.mac == m)
			owners += (owners.empty() ? "" : "/") + t.container;
	for (const Peer &p : peers())
		if (p.mac == m && owners.empty())
			owners = "peer " + to_string(p.endpoint.address);
	for (TopologyKind kind : {TopologyKind::flannel, TopologyKind::calico})
		if (routed_overlay(kind).mac == m)
			owners = routed_overlay(kind).vxlan;
	return owners.empty() ? to_string(m) : owners;
}

const char *corruption_text(Corruption c)
{
	switch (c) {
	case Corruption::none: return "";
	case Corruption::outer_ip_checksum: return ", bad outer IPv4 checksum";
	case Corruption::inner_ip_checksum: return ", bad inner IPv4 checksum";
	case Corruption::vxlan_flags: return ", VXLAN I flag clear";
	}
	return "";
}

const char *fragmenting_text(const FrameSpec &spec)
{
	if (spec.corruption != Corruption::none)
		return "";
	switch (spec.fragmenting) {
	case Fragmenting::none: return "";
	case Fragmenting::outer: return ", in outer fragments";
	case Fragmenting::inner: return spec.vxlan ? ", in inner fragments" : ", in outer fragments";
	}
	return "";
}

} // namespace

std::string describe(const FrameSpec &spec)
{
	std::string proto(to_string(spec.proto));
	std::string flags = spec.proto == SocketProto::tcp ? " [" + tcp_flags_text(spec.tcp_flags) + "]" : "";
	if (!spec.vxlan)
		return "plain " + proto + " " + to_string(spec.outer_src) + " > " + to_string(spec.dst) + flags +
		       corruption_text(spec.corruption) + fragmenting_text(spec);
	const std::string outer =
		spec.sent ? " sent to " + to_string(spec.outer_src.address) : " via " + to_string(spec.outer_src);
	return "vni " + std::to_string(spec.vni) + outer + ", " + proto + " " + to_string(spec.src) + " > " +
	       to_string(spec.dst) + flags + " (mac " + mac_name(spec.inner_src_mac) + " > " +
	       mac_name(spec.inner_dst_mac) + ")" + (spec.ttl != 64 ? " ttl " + std::to_string(spec.ttl) : "") +
	       corruption_text(spec.corruption) + fragmenting_text(spec);
}

const std::vector<Endpoint> &outer_sources_per_cpu()
{
	static const std::vector<Endpoint> found = [] {
		const Endpoint vtep{host_ip(), kVxlanPort};
		std::vector<Endpoint> sources;
		for (const char *remote : {"192.168.0.1", "192.168.0.3"}) {
			for (unsigned residue = 0; residue < 4; residue++) {
				for (unsigned port = 40000; port < 65536; port++) {
					Endpoint src{ip(remote), static_cast<std::uint16_t>(port)};
					if (rss_hash_l4(src, vtep) % 128 % 12 == residue) {
						sources.push_back(src);
						break;
					}
				}
			}
		}
		return sources;
	}();
	return found;
}

const CollidingSources &econ_bucket_collision()
{
	static const CollidingSources found = [] {
		// Same ECON bucket and the same hash % 128 % 12, so the same CPU for 2, 3 and 4 CPUs
		// (rss_cpu: the indirection table's 128 slots, round robin over the CPUs).
		const Endpoint vtep{host_ip(), kVxlanPort};
		std::map<std::pair<unsigned, unsigned>, Endpoint> seen;
		for (unsigned port = 40000; port < 65536; port++) {
			Endpoint src{ip("192.168.0.1"), static_cast<std::uint16_t>(port)};
			std::uint32_t hash = rss_hash_l4(src, vtep);
			auto [it, fresh] = seen.try_emplace({econ_bucket(hash), hash % 128 % 12}, src);
			if (!fresh && rss_hash_l4(it->second, vtep) != hash)
				return CollidingSources{it->second, src};
		}
		std::fprintf(stderr, "overlay_host: no two outer sources share an ECON bucket\n");
		std::abort();
	}();
	return found;
}

} // namespace econsim::sim::property
