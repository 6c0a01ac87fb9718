// `econ` mode: the original patch as-is (../shared/reference/econ-spec.md), its bugs included,
// each named by its id where it acts. The maps are econ_map.h's; this file is the hooks: the RX
// lookup in napi_gro_receive and delivery past every stage (econ_rx, econ_rx_deliver), the
// inserts in udp/tcp receive and xmit_one, econ_xmit's TX template, and the only two
// invalidations it has: socket close (econ_rx_remove) and /proc "clear" (econ_rx_remove_all).
#include <cstring>
#include <ostream>

#include "econ_map.h"
#include "fastpath.h"
#include "overlay_host.h"
#include "packet.h"

#include "model/sockets.h"
#include "model/topology.h"

namespace econsim::sim {

namespace {

constexpr std::uint16_t kIanaVxlanPort = 4789; // econ_rx strips only this port's tunnels (B16)

constexpr std::size_t kEconStrip = 8 + kVxlanHeaderLength + 14; // UDP, VXLAN, inner Ethernet

// econ_rx_lookup's walk over the bytes of an outer IPv4 fragment, which the parser does not
// decapsulate (the kernel reassembles first): the four bytes after each IPv4 header are read as
// ports whatever the fragment offset (B17), and UDP to 4789 is stripped as in a whole frame. A later
// fragment's payload is read as a header; it matches a cached flow only by chance.
std::optional<EconFlow> walk_outer_fragment(std::span<const std::uint8_t> bytes, std::size_t ip_at)
{
	for (int level = 0; level < 2; level++) {
		if (ip_at + 20 > bytes.size())
			return std::nullopt;
		const std::uint8_t *ip = bytes.data() + ip_at;
		const std::size_t l4_at = ip_at + (ip[0] & 0x0fu) * 4u;
		if (l4_at + 4 > bytes.size())
			return std::nullopt;
		const std::uint8_t *ports = bytes.data() + l4_at;
		const EconFlow flow{std::uint32_t{ip[12]} << 24 | std::uint32_t{ip[13]} << 16 | std::uint32_t{ip[14]} << 8 | ip[15],
				    std::uint32_t{ip[16]} << 24 | std::uint32_t{ip[17]} << 16 | std::uint32_t{ip[18]} << 8 | ip[19],
				    static_cast<std::uint16_t>(ports[0] << 8 | ports[1]),
				    static_cast<std::uint16_t>(ports[2] << 8 | ports[3]), ip[9]};
		if (level > 0 || flow.proto != kIpProtoUdp || flow.dport != kIanaVxlanPort)
			return flow;
		ip_at = l4_at + kEconStrip;
	}
	return std::nullopt;
}

// econ_rx_lookup walks eth → IPv4 → (UDP to 4789: skip UDP and VXLAN, again) and compares the
// innermost addresses and ports. A VXLAN port other than 4789 is not stripped.
std::optional<EconFlow> innermost_flow(const ParsedFrame &f)
{
	if (f.outer_ip && f.outer_ip->is_fragment())
		return walk_outer_fragment(f.bytes, f.outer_ip->offset);
	const Ipv4Header *ip = f.outer_ip ? &*f.outer_ip : nullptr;
	const TransportHeader *l4 = f.outer_l4 ? &*f.outer_l4 : nullptr;
	if (f.is_vxlan() && l4 && l4->dst_port == kIanaVxlanPort) {
		ip = f.inner_ip ? &*f.inner_ip : nullptr;
		l4 = f.inner_l4 ? &*f.inner_l4 : nullptr;
		// B17: the fragment offset is not checked, so a later inner fragment's first four payload
		// bytes are read as its ports (they match a cached flow's only by chance).
		if (ip && ip->fragment_offset != 0 && ip->payload_length() >= 4 &&
		    ip->payload_offset() + 4 <= f.bytes.size()) {
			const std::uint8_t *ports = f.bytes.data() + ip->payload_offset();
			return EconFlow{ip->src.value, ip->dst.value, static_cast<std::uint16_t>(ports[0] << 8 | ports[1]),
					static_cast<std::uint16_t>(ports[2] << 8 | ports[3]), ip->protocol};
		}
	}
	if (!ip || !l4 || !l4->has_ports())
		return std::nullopt;
	return EconFlow{ip->src.value, ip->dst.value, l4->src_port, l4->dst_port, ip->protocol};
}

EconFlow econ_flow(const model::FiveTuple &t)
{
	return EconFlow{t.addresses.source.address.value, t.addresses.destination.address.value,
			t.addresses.source.port, t.addresses.destination.port, ip_proto(t.protocol)};
}

// What skb->hash holds when udp_rcv or tcp_v4_rcv inserts. With L4 RSS the NIC's hash survives
// decapsulation (l4_hash); otherwise __iptunnel_pull_header clears it and a later software hash
// of the inner packet takes its place, which never equals the NIC's (§2.1).
std::uint32_t insert_key(const Scenario &scenario, const Packet &pkt)
{
	// A datagram the host reassembled from outer fragments has the NIC's L3 hash (the NIC hashes
	// no ports of a fragment): l4_hash is clear, so decapsulation drops it too.
	const bool l4_hash = scenario.host.rss == RssMode::l4 && !pkt.outer_reassembled;
	bool survives = l4_hash || (!pkt.parsed.is_vxlan() && scenario.host.rss != RssMode::none);
	if (survives && pkt.rss_hash)
		return pkt.rss_hash;
	const EconFlow f = econ_flow(*pkt.flow);
	std::uint32_t h = f.saddr * 0x9E3779B1u ^ f.daddr;
	h = (h * 0x85EBCA77u) ^ (static_cast<std::uint32_t>(f.sport) << 16 | f.dport);
	return (h * 0xC2B2AE3Du) ^ f.proto ^ 0x5eed;
}

EconInnerMacs inner_macs(const ParsedFrame &f)
{
	EconInnerMacs macs{};
	std::memcpy(macs.data(), f.inner_eth->dst->bytes.data(), 6);
	std::memcpy(macs.data() + 6, f.inner_eth->src->bytes.data(), 6);
	return macs;
}

class EconFastPath : public FastPath {
public:
	explicit EconFastPath(const Scenario &scenario) : maps_(static_cast<unsigned>(scenario.host.cpus)) {}

	FastRx rx(OverlayHost &host, Packet &pkt) override
	{
		std::optional<EconFlow> flow = innermost_flow(pkt.parsed);
		if (!flow)
			return FastRx::miss;
		// skb->hash: 0 without RSS, so a lookup there finds no key.
		EconRxLookup found = maps_.rx().lookup(pkt.cpu, pkt.rss_hash, *flow);
		if (!found.hit()) {
			(found.result == EconRxLookupResult::no_key ? no_key_ : flow_mismatch_)++;
			return FastRx::miss;
		}
		hits_++;
		pkt.verdict.path = Path::fast;
		if (pkt.parsed.is_vxlan())
			pkt.verdict.vni = pkt.parsed.vxlan->vni;
		const std::string &name = host.socket_name(found.socket);
		pkt.step(Stage::fastpath, [&] { return "econ hit → " + name; }, [&] {
			return "key " + hex32(pkt.rss_hash) +
			       " and the inner 5-tuple match; VNI, netns and device are not compared (B8)";
		});
		const ParsedFrame &f = pkt.parsed;
		// econ_rx: the outer IPv4 checks free the skb on failure, and napi_gro_receive goes on
		// with it (B1).
		if (f.has(ParseReason::bad_ip_checksum) || f.has(ParseReason::bad_ip_length) ||
		    f.has(ParseReason::ip_truncated)) {
			bugs_b1_++;
			pkt.drop(Stage::econ_rx, "b1_use_after_free", "outer IPv4 check failed after a hit: skb freed, then used");
			return FastRx::ended;
		}
		if (f.is_vxlan() && f.has(ParseReason::inner_bad_ip_checksum)) {
			pkt.drop(Stage::econ_rx_deliver, "inner_bad_ip_checksum", "econ_rx_deliver checks the inner header");
			return FastRx::ended;
		}
		if (f.outer_ip && f.outer_ip->is_fragment()) {
			// B17 on the outer header: econ_rx strips a piece of the VXLAN datagram (or reads a
			// later piece's payload as headers) and udp_rcv gets it alone, never reassembled.
			bugs_b17_++;
			pkt.drop(Stage::econ_rx_deliver, "b17_fragment", "an outer fragment delivered as if whole; never reassembled");
			return FastRx::ended;
		}
		if (f.is_vxlan() && f.inner_ip && f.inner_ip->is_fragment()) {
			// B17: econ_rx_deliver has no ip_defrag; udp_rcv (or tcp_v4_rcv) gets the fragment
			// alone and drops it: its length field (or checksum) covers the whole datagram.
			bugs_b17_++;
			pkt.drop(Stage::econ_rx_deliver, "b17_fragment", "an inner fragment delivered as if whole; never reassembled");
			return FastRx::ended;
		}
		if (!host.socket_open(found.socket)) {
			// An entry B4 left behind, for a socket that is gone: udp_rcv/tcp_v4_rcv use freed memory.
			bugs_b14_++;
			pkt.verdict.verdict = VerdictKind::deliver;
			pkt.verdict.sock = name;
			pkt.verdict.reason = "b14_closed_socket";
			pkt.step(Stage::econ_rx_deliver, [&] { return "to closed socket " + name; },
				 "B4 left the entry, B14: no reference held");
			return FastRx::ended;
		}
		const model::Socket *socket = host.model().sockets().find(name);
		pkt.netns = socket ? host.netns_id(socket->ns) : kHostNetnsId;
		pkt.flow = model::FiveTuple{
			flow->proto == kIpProtoUdp ? model::Protocol::udp : model::Protocol::tcp,
			{{model::Ipv4Address{flow->saddr}, flow->sport}, {model::Ipv4Address{flow->daddr}, flow->dport}}};
		pkt.socket = found.socket;
		return FastRx::relookup;
	}

	void rx_delivered(OverlayHost &host, const Packet &pkt) override
	{
		if (!pkt.flow)
			return;
		const model::Socket *socket = host.model().sockets().find(host.socket_name(pkt.socket));
		if (!socket)
			return;
		if (pkt.flow->protocol == model::Protocol::udp) {
			// __udp4_lib_rcv inserts on the full-lookup path only, for any port but 4789. A
			// connected socket is found by early demux (skb_steal_sock) and returns first.
			if (pkt.flow->addresses.destination.port == kIanaVxlanPort)
				return;
			if (socket->peer && *socket->peer == pkt.flow->addresses.source)
				return;
		} else {
			// tcp_v4_rcv: an ESTABLISHED socket found by __inet_lookup_skb, received on a
			// virtual device (rtnl_link_ops->kind): never a physical NIC, never the handshake.
			if (!pkt.parsed.is_vxlan() || !pkt.tcp_event)
				return;
			bool was_established = (*pkt.tcp_event == model::TcpEvent::delivered &&
						socket->state == model::SocketState::established) ||
					       *pkt.tcp_event == model::TcpEvent::fin_received;
			if (!was_established)
				return;
		}
		EconDevice device = econ_device(host, pkt);
		count(maps_.rx().insert(pkt.cpu, static_cast<std::uint64_t>(pkt.ts_ns), insert_key(host.scenario(), pkt),
					pkt.socket, device, econ_flow(*pkt.flow)));
	}

	bool tx(OverlayHost &, Packet &pkt) override
	{
		const std::uint64_t cookie = pkt.socket;
		EconFlow f = econ_flow(*pkt.flow);
		std::uint32_t key = econ_tx_key(f.proto, f.sport, f.dport);
		unsigned cpu = tx_cpu(f);
		EconTxLookup found = maps_.tx().lookup(cpu, key, cookie);
		if (!found.hit)
			return false;
		tx_hits_++;
		pkt.verdict.path = Path::fast;
		const ParsedFrame &p = pkt.parsed;
		if (!same_outer_header(found.entry.outer, p.outer_header_bytes()) || found.entry.inner_macs != inner_macs(p)) {
			// The key has no addresses and the lookup checks none (B8): another peer's header.
			pkt.verdict.reason = "tx_template_mismatch";
			pkt.step(Stage::econ_xmit, "hit, wrong header", "cached for another peer with the same ports (B8)");
		} else {
			pkt.step(Stage::econ_xmit, "hit", "cached outer header and inner MACs");
		}
		// xmit_one → econ_tx_insert rewrites the entry from the packet built from it (B15).
		count(maps_.tx().insert(cpu, static_cast<std::uint64_t>(pkt.ts_ns), key, cookie, found.entry.device,
					found.entry.outer, found.entry.inner_macs));
		return true;
	}

	// econ_xmit is veth_xmit's first statement on the container's eth0: a hit goes straight to the
	// NIC, past the bridge (and its learning) and vxlan_xmit (econ-spec.md, "What the TX fastpath
	// skips").
	bool tx_hit_skips_bridge() const override { return true; }

	void tx_sent(OverlayHost &host, const Packet &pkt) override
	{
		auto outer = pkt.parsed.outer_header_bytes();
		if (outer.size() != EconOuterHeader{}.size())
			return;
		EconFlow f = econ_flow(*pkt.flow);
		EconOuterHeader header{};
		std::memcpy(header.data(), outer.data(), header.size());
		fpmap_dev nic = host.device_id(host.scenario().host.nic.name);
		count(maps_.tx().insert(tx_cpu(f), static_cast<std::uint64_t>(pkt.ts_ns), econ_tx_key(f.proto, f.sport, f.dport),
					pkt.socket, (std::uint64_t{nic.netns} << 32) | nic.ifindex,
					header, inner_macs(pkt.parsed)));
	}

	void socket_closed(std::uint64_t cookie) override
	{
		EconRemoveStats s = maps_.remove_socket(cookie);
		removals_++;
		buckets_visited_ += s.buckets_visited;
		removed_ += s.rx_deleted + s.tx_deleted;
		std::size_t left = maps_.rx().entries_of(cookie).size() + maps_.tx().entries_of(cookie).size();
		left_behind_ += left; // B4
	}
	// ECON has no hook for these (§3): counted to show what it does not see.
	void socket_rebound(std::uint32_t, model::Protocol, std::uint16_t) override { ignored_events_++; }
	void device_changed(const fpmap_dev &, fpmap_event) override { ignored_events_++; }
	void netns_exit(std::uint32_t) override { ignored_events_++; }
	void routing_changed() override { ignored_events_++; }
	void flush(std::int64_t now_ns) override
	{
		EconRemoveStats s = maps_.remove_all(static_cast<std::uint64_t>(now_ns));
		flushes_++;
		removed_ += s.rx_deleted + s.tx_deleted;
	}

	void summarize(std::ostream &out) const override
	{
		out << "fast path (econ): rx hits " << hits_ << ", misses " << no_key_ << " (no key) + " << flow_mismatch_
		    << " (5-tuple mismatch), tx hits " << tx_hits_ << "; inserts " << inserted_ << ", overwrites "
		    << overwritten_ << ", refreshes " << refreshed_ << ", refused by the 100 ms guard " << guarded_ << "\n";
		out << "  entries " << maps_.size() << " (" << maps_.memory_bytes() << " bytes of slab); socket closes "
		    << removals_ << " walked " << buckets_visited_ << " buckets, removed " << removed_
		    << ", left behind (B4) " << left_behind_ << "; flushes " << flushes_ << "\n";
		out << "  events ECON does not invalidate on (bind/connect/listen, device, FDB, VNI, netns, routing) "
		    << ignored_events_ << "; B1 use-after-free " << bugs_b1_ << ", deliveries to closed sockets (B4/B14) "
		    << bugs_b14_ << "\n";
		if (bugs_b17_)
			out << "  fragments delivered as whole datagrams (B17) " << bugs_b17_ << "\n";
	}

private:
	void count(EconInsert result)
	{
		switch (result) {
		case EconInsert::inserted: inserted_++; break;
		case EconInsert::overwritten: overwritten_++; break;
		case EconInsert::refreshed: refreshed_++; break;
		case EconInsert::guarded: guarded_++; break;
		}
	}

	static EconDevice econ_device(OverlayHost &host, const Packet &pkt)
	{
		const model::Container *c = host.container(pkt.netns);
		fpmap_dev dev = host.device_id(c ? c->container_end : host.scenario().host.nic.name);
		return (std::uint64_t{dev.netns} << 32) | static_cast<std::uint32_t>(dev.ifindex);
	}

	unsigned tx_cpu(const EconFlow &f) const
	{
		std::uint32_t h = (f.saddr * 0x9E3779B1u) ^ f.daddr ^ (static_cast<std::uint32_t>(f.sport) << 16 | f.dport);
		return (h ^ (h >> 16)) % maps_.cpus();
	}

	EconMaps maps_;
	std::uint64_t hits_ = 0, no_key_ = 0, flow_mismatch_ = 0, tx_hits_ = 0;
	std::uint64_t inserted_ = 0, overwritten_ = 0, refreshed_ = 0, guarded_ = 0;
	std::uint64_t removals_ = 0, buckets_visited_ = 0, removed_ = 0, left_behind_ = 0, flushes_ = 0;
	std::uint64_t ignored_events_ = 0, bugs_b1_ = 0, bugs_b14_ = 0, bugs_b17_ = 0;
};

} // namespace

std::unique_ptr<FastPath> make_econ_fastpath(const Scenario &scenario)
{
	return std::make_unique<EconFastPath>(scenario);
}

} // namespace econsim::sim
