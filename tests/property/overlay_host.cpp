#include "overlay_host.h"

#include <cstdio>
#include <cstdlib>
#include <map>

#include "econ_map.h"
#include "rss_hash.h"

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
	for (const Tenant &t : tenants())
		if (t.container == container)
			return &t;
	return nullptr;
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

Scenario overlay_scenario(int cpus)
{
	Scenario s;
	s.file = "property";
	s.host.name = "node1";
	s.host.cpus = cpus;
	s.host.rss = RssMode::l4;
	s.host.nic = Nic{kNic, test::kHostMac, Ipv4Prefix{host_ip(), 24}, 1500, 0};
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
	}
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
		Bytes inner =
			test::ethernet_frame(l4(spec.src, spec.dst), 0x0800, spec.inner_dst_mac, spec.inner_src_mac);
		frame = test::vxlan_frame(spec.vni, inner, spec.outer_src, Endpoint{host_ip(), kVxlanPort});
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
	return "vni " + std::to_string(spec.vni) + " via " + to_string(spec.outer_src) + ", " + proto + " " +
	       to_string(spec.src) + " > " + to_string(spec.dst) + flags + " (mac " + mac_name(spec.inner_src_mac) +
	       " > " + mac_name(spec.inner_dst_mac) + ")" + corruption_text(spec.corruption) + fragmenting_text(spec);
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
