// `fixed` mode: the kernel-port flow map, as the kernel patch uses it. RX: looked up at NIC RX
// with the full key (inner 5-tuple + VNI + underlay netns), inserted after a slow-path delivery
// with the ticket the lookup gave; a hit skips every stage to the socket, keeping what the
// kernel does per packet anyway (header checks, the socket-level receive). TX: the outer header
// template per socket flow. Every scenario event reaches the map's invalidation API.
#include <arpa/inet.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstring>
#include <ostream>

#include "fastpath.h"
#include "flow_map.h"
#include "overlay_host.h"
#include "packet.h"
#include "stages/stages.h"

#include "model/topology.h"

namespace econsim::sim {

fpmap_flow fixed_flow_key(const model::FiveTuple &t, std::uint32_t vni, std::uint32_t netns)
{
	fpmap_flow key{};
	if constexpr (std::endian::native == std::endian::little) {
		// Stored as the three 64-bit words its bytes make: the bucket hash and the map's key
		// compare (a 24-byte memcmp) load it back in 8-byte words at once, and loads that span
		// narrower stores of its fields would wait for them to retire (no store-to-load
		// forwarding across sizes): 13 % of the fixed replay's time.
		static_assert(sizeof key == 3 * sizeof(std::uint64_t) && offsetof(fpmap_flow, vni) == 16);
		const std::uint64_t words[3] = {
			std::uint64_t{htonl(t.addresses.destination.address.value)} << 32 |
				htonl(t.addresses.source.address.value),
			std::uint64_t{ip_proto(t.protocol)} << 32 | std::uint64_t{htons(t.addresses.destination.port)} << 16 |
				htons(t.addresses.source.port),
			std::uint64_t{netns} << 32 | vni,
		};
		std::memcpy(&key, words, sizeof key);
		return key;
	}
	key.saddr = htonl(t.addresses.source.address.value);
	key.daddr = htonl(t.addresses.destination.address.value);
	key.sport = htons(t.addresses.source.port);
	key.dport = htons(t.addresses.destination.port);
	key.proto = ip_proto(t.protocol);
	key.vni = vni;
	key.netns = netns;
	return key;
}

namespace {

// Per table per CPU: what the kernel patch configures (FPATH_ENTRIES_PER_CPU in
// kernel-port/patches/hooks/0002-net-core-fpath.patch), so that a replay evicts where that kernel
// would. Not more: chunks of entries are allocated (and zeroed) as inserts land in them, and at
// 65,536 a CPU, with entries then numbered bucket by bucket, bench's 10K flows on 2 CPUs landed in
// nearly every chunk: 49 MiB of peak RSS, and most of the inserts' cost.
constexpr unsigned kEntriesPerCpu = 16384;

// The host namespace's routing state as one more device of a routed flow's path: the host's lo
// (ifindex 1, which OverlayHost never hands out), whose generation routing_changed bumps.
constexpr fpmap_dev kRoutingGeneration{kHostNetnsId, 1};

std::optional<model::FiveTuple> inner_flow(const ParsedFrame &f)
{
	if (!f.inner_ip || !f.inner_l4 || !f.inner_l4->has_ports())
		return std::nullopt;
	if (!f.inner_l4->is_udp() && !f.inner_l4->is_tcp())
		return std::nullopt;
	return model::FiveTuple{
		f.inner_l4->is_udp() ? model::Protocol::udp : model::Protocol::tcp,
		{{f.inner_ip->src, f.inner_l4->src_port}, {f.inner_ip->dst, f.inner_l4->dst_port}}};
}

// Every header checked out, but for L4 checksums, which a capture cannot vouch for (the slow path
// does not enforce them either: see udp_rcv).
bool clean_for_fastpath(const ParsedFrame &f)
{
	constexpr std::uint64_t kUnverifiable = [] {
		std::uint64_t mask = 0;
		for (ParseReason r : {ParseReason::bad_udp_checksum, ParseReason::bad_tcp_checksum,
				      ParseReason::inner_bad_udp_checksum, ParseReason::inner_bad_tcp_checksum})
			mask |= std::uint64_t{1} << static_cast<unsigned>(r);
		return mask;
	}();
	return (f.reasons & ~kUnverifiable) == 0;
}

// The bucket hash, as the kernel series makes it (fpath_hash in net/core/fpath.c, issue 13 defect
// 4): a seeded hash of the whole inner key (padding zeroed), XORed with the VXLAN device's ifindex,
// never the NIC's hash of the outer header, which a VTEP drawing its source ports from a narrow
// range makes the same for every inner flow of a peer. The kernel seeds jhash2 at random per boot;
// a replay must evict where the last replay did, so this seed is fixed and the mix is our own
// (placement only: a hit needs the whole key equal either way).
std::uint32_t rx_bucket_hash(const fpmap_flow &key, int vxlan_ifindex)
{
	// Three independent multiplications (the key is three 64-bit words), not a chain: the
	// replay pays this on every frame, where the NIC's hash it replaced was free.
	static_assert(sizeof key == 3 * sizeof(std::uint64_t));
	std::uint64_t words[3];
	std::memcpy(words, &key, sizeof key);
	const std::uint64_t h = (words[0] ^ 0x243F6A8885A308D3u) * 0x9E3779B97F4A7C15u ^
				words[1] * 0xC2B2AE3D27D4EB4Fu ^ words[2] * 0x165667B19E3779F9u;
	return static_cast<std::uint32_t>(h >> 32) ^ static_cast<std::uint32_t>(vxlan_ifindex);
}

// The RX key and its bucket hash, as fpath_parse and fpath_hash make them: tenants apart twice,
// by the VNI in the key and by the VXLAN device in the hash.
struct RxKey {
	fpmap_flow key;
	std::uint32_t hash;
};
RxKey rx_key(const model::FiveTuple &flow, std::uint32_t vni, int vxlan_ifindex)
{
	fpmap_flow key = fixed_flow_key(flow, vni, kHostNetnsId);
	return {key, rx_bucket_hash(key, vxlan_ifindex)};
}

class FixedFastPath : public FastPath {
public:
	explicit FixedFastPath(const Scenario &scenario)
		: map_(static_cast<unsigned>(scenario.host.cpus), kEntriesPerCpu)
	{
	}

	FastRx rx(OverlayHost &host, Packet &pkt) override
	{
		const ParsedFrame &f = pkt.parsed;
		// Only frames whose every header checked out: the per-packet checks the kernel keeps
		// on a hit (outer and inner IPv4 header, VXLAN flags) are the parse's.
		if (!clean_for_fastpath(f) || !f.is_vxlan() || !f.outer_l4 || !f.outer_l4->is_udp())
			return FastRx::miss;
		// br_handle_frame drops a frame whose source MAC is multicast or zero (is_valid_ether_addr):
		// a per-packet check the skipped bridge made, so the fast path makes it too.
		if (!f.inner_eth || !f.inner_eth->src || f.inner_eth->src->is_multicast() ||
		    *f.inner_eth->src == MacAddress{})
			return FastRx::miss;
		std::optional<model::FiveTuple> flow = inner_flow(f);
		if (!flow)
			return FastRx::miss;
		// The kernel looks up in vxlan_rcv: no VXLAN device up for the port and VNI, no lookup
		// (and the slow path drops the frame, so there is nothing to insert either). What the
		// hit needs of the host beside the device comes in the same call.
		const OverlayHost::VxlanForLookup vxlan = host.vxlan_for_lookup(f);
		if (!vxlan.device)
			return FastRx::miss;
		pkt.fastpath_ticket_valid = true;
		const RxKey rx = rx_key(*flow, f.vxlan->vni, vxlan.id.ifindex);
		auto dest = map_.rx_lookup(pkt.cpu, rx.key, rx.hash, pkt.fastpath_ticket);
		if (!dest)
			return FastRx::miss;
		// The device the flow was delivered through must take this frame's MAC (dev->dev_addr): the
		// container's eth0, or on a routed overlay the VXLAN device the host routes from.
		const model::Container *c = host.container(dest->sock_netns);
		const bool routed = vxlan.device->bridge.empty();
		const std::optional<model::MacAddress> takes =
			routed ? vxlan.device->mac : (c ? std::optional(c->mac) : std::nullopt);
		if (!c || !f.inner_eth->dst || *f.inner_eth->dst != takes) {
			mac_rejects_++;
			return FastRx::miss;
		}
		if (routed && !forwards_as_cached(host, f)) {
			forward_misses_++;
			return FastRx::miss;
		}
		// The host's netfilter (host.netfilter): the series declines a routed hit where the host
		// namespace has IPv4 hooks (it would have to run ip_forward's FORWARD and conntrack), and
		// runs br_netfilter's hooks on a bridged one (below).
		if (routed && host.model().netfilter()) {
			netfilter_misses_++;
			return FastRx::miss;
		}
		if (vxlan.snoop_would_learn || !refresh_bridge_learning(*vxlan.device, f, pkt.ts_ns)) {
			learning_misses_++;
			return FastRx::miss;
		}
		pkt.verdict.vni = f.vxlan->vni;
		pkt.verdict.path = Path::fast;
		pkt.netns = dest->sock_netns;
		pkt.flow = flow;
		// A bridged hit crosses br_netfilter as the bridge would have sent it on (the series:
		// br_nf_fpath_rx_pre_routing, br_nf_fpath_rx_forward): conntrack sees it, the FORWARD
		// chain may drop it, with the slow path's in and out, the bridge.
		if (!routed && nf_forward_applies(host, true)) {
			StageContext ctx{host, *this};
			if (nf_forward(ctx, pkt, Stage::fastpath,
				       {.in = vxlan.device->bridge, .out = vxlan.device->bridge}) >
			    NfForward::accepted)
				return FastRx::ended;
		}
		// The socket comes from the cache, as in the kernel: no lookup runs, so an invalidation
		// that went missing shows as a delivery vanilla would not make.
		pkt.socket = dest->sock_cookie;
		pkt.step(Stage::fastpath, [&] { return "hit → " + host.socket_name(pkt.socket); },
			 [&] { return "fixed map on CPU " + std::to_string(pkt.cpu) + ", skips ip_rcv … socket_lookup"; });
		return FastRx::cached;
	}

	// The lookup ran at NIC RX, before vxlan_snoop; the kernel's runs after it. What this frame's
	// own snoop learned (a new or moved remote) is an event for the TX templates through the
	// VXLAN device, not a change the slow path's decision predates: renewing the ticket here
	// keeps it from refusing this frame's insert, as the kernel's insert is not refused. The
	// entry's generations are read at the insert, after the event.
	void rx_past_vxlan_snoop(Packet &pkt) override
	{
		if (pkt.fastpath_ticket_valid) // on the lookup's CPU, which the insert fills
			pkt.fastpath_ticket = map_.take_ticket(pkt.fastpath_ticket.cpu);
	}

	void rx_delivered(OverlayHost &host, const Packet &pkt) override
	{
		if (!pkt.fastpath_ticket_valid || pkt.netns == kHostNetnsId || !pkt.flow)
			return;
		const model::Socket *socket = host.model().sockets().find(host.socket_name(pkt.socket));
		if (!socket || !cacheable(*socket, pkt))
			return;
		const model::Container *c = host.container(pkt.netns);
		fpmap_rx_dest dest{};
		dest.sock_cookie = pkt.socket;
		dest.sock_netns = pkt.netns;
		dest.dev = host.device_id(c->container_end);
		const RxKey rx = rx_key(*pkt.flow, pkt.parsed.vxlan->vni, pkt.vxlan.ifindex);
		if (map_.rx_insert(pkt.cpu, pkt.fastpath_ticket, rx.key, rx.hash, dest,
				   path_of(host, pkt.vxlan, *c)))
			insert_refusals_++;
	}

	bool tx(OverlayHost &host, Packet &pkt) override
	{
		// A fragment never takes the fast path and never makes an entry (B17), either way.
		if (pkt.parsed.inner_ip && pkt.parsed.inner_ip->is_fragment())
			return false;
		// A node with netfilter hooks: the series declines every frame before its lookup
		// (tx_fallback_policy, tx_fallback_netfilter): a hit would have to run the bridge's or
		// the forward path's hooks for the container's frame and the underlay's OUTPUT and
		// POST_ROUTING for the outer one. No lookup, so no ticket and no insert either.
		if (host.model().netfilter()) {
			tx_netfilter_declines_++;
			return false;
		}
		fpmap_flow key = fixed_flow_key(*pkt.flow, 0, pkt.netns);
		unsigned cpu = tx_cpu(key);
		auto tmpl = map_.tx_lookup(cpu, key, tx_hash(key), pkt.socket, pkt.fastpath_ticket);
		pkt.fastpath_ticket_valid = true;
		if (!tmpl)
			return false;
		// A GSO frame (larger than the NIC's MTU, segmented below the capture) is sent by the
		// cache as any other: the series makes it the tunnel's GSO frame as vxlan_build_skb()
		// does (fpath_tx_send) and declines it only where the VXLAN device's features would
		// segment it, which the capture cannot show (the kernel then sent wire-sized frames).
		pkt.verdict.path = Path::fast;
		std::span<const std::uint8_t> sent = pkt.parsed.outer_header_bytes();
		if (!same_outer_header(tmpl->outer, sent)) {
			pkt.verdict.reason = "tx_template_mismatch";
			pkt.step(Stage::fastpath, "tx hit, mismatch", "the cached outer header differs from what the kernel sent");
		} else {
			pkt.step(Stage::fastpath, "tx hit", [&] { return "cached outer header for " + host.socket_name(pkt.socket); });
		}
		return true;
	}

	void tx_sent(OverlayHost &host, const Packet &pkt) override
	{
		auto outer = pkt.parsed.outer_header_bytes();
		if (!pkt.fastpath_ticket_valid || outer.size() != FPMAP_OUTER_LEN || pkt.verdict.reason)
			return;
		const model::Container *c = host.container(pkt.netns);
		fpmap_tx_template tmpl{};
		std::memcpy(tmpl.outer, outer.data(), FPMAP_OUTER_LEN);
		std::memcpy(tmpl.inner_macs, pkt.parsed.inner_eth->dst->bytes.data(), 6);
		std::memcpy(tmpl.inner_macs + 6, pkt.parsed.inner_eth->src->bytes.data(), 6);
		tmpl.egress = host.device_id(host.scenario().host.nic.name);
		fpmap_flow key = fixed_flow_key(*pkt.flow, 0, pkt.netns);
		fpmap_path path = tx_path_of(host, pkt.vxlan, *c, tmpl.egress);
		if (map_.tx_insert(tx_cpu(key), pkt.fastpath_ticket, key, tx_hash(key), pkt.socket,
				   tmpl, path))
			insert_refusals_++;
	}

	void socket_closed(std::uint64_t cookie) override { map_.sock_closed(cookie); }
	void socket_rebound(std::uint32_t netns, model::Protocol protocol, std::uint16_t port) override
	{
		map_.sock_rebound(netns, ip_proto(protocol), port);
	}
	void device_changed(const fpmap_dev &dev, fpmap_event event) override { map_.dev_event(dev, event); }
	void netns_exit(std::uint32_t netns) override { map_.netns_exit(netns); }
	// The host namespace's routing is one generation (rt_genid's role): every routed entry holds
	// it in its path, so a change of route, neighbour, sysctl or link makes them all stale.
	void routing_changed() override { map_.dev_event(kRoutingGeneration, FPMAP_EV_FDB_CHANGE); }
	void flush(std::int64_t) override { map_.flush(); }
	const FlowMap *flow_map() const override { return &map_; }

	void summarize(std::ostream &out) const override
	{
		fpmap_stats s = map_.total_stats();
		out << "fast path (fixed): hits " << s.hits << ", misses " << s.misses << ", stale " << s.stale
		    << ", inserts " << s.inserts << ", insert races " << s.insert_races << ", evictions "
		    << s.evictions << ", entries " << s.entries << "\n";
		out << "  invalidations: close " << map_.event_count(FPMAP_EV_SOCK_CLOSE) << ", rebind "
		    << map_.event_count(FPMAP_EV_SOCK_REBIND) << ", dev down " << map_.event_count(FPMAP_EV_DEV_DOWN)
		    << ", dev delete " << map_.event_count(FPMAP_EV_DEV_DELETE) << ", fdb "
		    << map_.event_count(FPMAP_EV_FDB_CHANGE) << ", vni " << map_.event_count(FPMAP_EV_VNI_CHANGE)
		    << ", netns " << map_.event_count(FPMAP_EV_NETNS_EXIT) << ", flush "
		    << map_.event_count(FPMAP_EV_FLUSH) << "; entries removed " << s.invalidated << "\n";
		if (mac_rejects_ || learning_misses_ || insert_refusals_)
			out << "  hits refused for the MAC " << mac_rejects_ << ", for learning " << learning_misses_
			    << ", inserts refused " << insert_refusals_ << "\n";
		if (forward_misses_)
			out << "  hits refused by ip_forward's per-packet checks (TTL, MTU) " << forward_misses_ << "\n";
		if (netfilter_misses_ || tx_netfilter_declines_)
			out << "  declined for the host's netfilter: routed hits " << netfilter_misses_ << ", transmits "
			    << tx_netfilter_declines_ << "\n";
	}

private:
	// The skipped stages keep per-packet state: vxlan_snoop remembers which VTEP each inner source
	// MAC lives behind (vxlan_for_lookup says whether this frame would teach it anything),
	// br_fdb_update which bridge port, and refreshes the entry's age. A hit refreshes what they
	// would leave in place; a frame that would teach either of them something new (a new or moved
	// MAC, a spoofed local one, an entry that aged out) goes the slow way, whose learning raises
	// the FDB event that invalidates what it changes.
	static bool refresh_bridge_learning(const model::Device &vxlan, const ParsedFrame &f, std::int64_t ts_ns)
	{
		if (vxlan.bridge.empty())
			return true; // routed: no bridge learns the source
		model::BridgeFdb *fdb = vxlan.bridge_fdb;
		const model::MacAddress source = *f.inner_eth->src;
		const double now = static_cast<double>(ts_ns) * 1e-9;
		// br_fdb_update on the port the entry names: only the age changes.
		return fdb && fdb->refresh_if_on(source, vxlan.name, now);
	}

	// ip_forward's per-packet checks, which the key cannot vouch for: TTL above 1, and a DF packet
	// no longer than the egress MTU. Route, neighbour, rp_filter and ip_forward are the key's and
	// the routing generation's (routing_changed).
	static bool forwards_as_cached(OverlayHost &host, const ParsedFrame &f)
	{
		const model::Route *route = host.model().routing().lookup(host.model().topology(), f.inner_ip->dst);
		if (!route)
			return false;
		const model::Device *egress = host.model().topology().device(route->device);
		return egress && model::Routing::forward_check(true, f.inner_ip->ttl, f.inner_ip->total_length,
							       f.inner_ip->dont_fragment,
							       host.mtu(*egress)) == model::ForwardCheck::ok;
	}

	// What the slow path crossed, in order: VXLAN device, bridge, veth host end, container end. A
	// routed flow: VXLAN device, the routing generation, the route's device (the bridge or the
	// veth's host end), container end; a link change of the bridge's port bumps the routing
	// generation (OverlayHost's link event), so the port needs no slot of its own.
	static fpmap_path path_of(OverlayHost &host, const fpmap_dev &vxlan, const model::Container &c)
	{
		fpmap_path path{};
		path.dev[0] = vxlan;
		if (c.bridge.empty() || host.vxlan_device(vxlan)->bridge.empty()) {
			const model::Route *route =
				host.model().routing().lookup(host.model().topology(), c.address.address);
			path.dev[1] = kRoutingGeneration;
			path.dev[2] = host.device_id(route ? route->device : c.host_end);
			path.dev[3] = host.device_id(c.container_end);
			return path;
		}
		path.dev[1] = host.device_id(c.bridge);
		path.dev[2] = host.device_id(c.host_end);
		path.dev[3] = host.device_id(c.container_end);
		return path;
	}

	// What a transmitted frame crossed in the host, as the series records it (fpath_tx_insert):
	// the veth's host end, the bridge, the VXLAN device and the egress NIC, so that a link event on
	// any of them makes the template stale; the RX path's fourth device, the container's end, is
	// not on it. A routed flow: the VXLAN device, the routing generation, the route's device (the
	// bridge or the host end), the egress.
	static fpmap_path tx_path_of(OverlayHost &host, const fpmap_dev &vxlan, const model::Container &c,
				     const fpmap_dev &egress)
	{
		fpmap_path path = path_of(host, vxlan, c);
		path.dev[3] = egress; // in place of the container's end
		return path;
	}

	// Connected-socket and listener churn is caught by rebind events; a request or a listener
	// answer is not the flow's (the next segment goes to the child), so only full sockets. Only
	// frames addressed to the container's own MAC (the kernel patch's PACKET_HOST): a broadcast
	// reached it by flooding, and says nothing of where the bridge sends the flow's unicast frames.
	// Nor does a unicast frame a bridge flooded (its FDB not knowing the container's MAC yet), as
	// the series refuses both: a bridged frame the VXLAN port's bridge flooded records no bridge
	// hop (br_handle_frame_finish records one only where its FDB found the destination), and for
	// a routed frame the insert asks the FDB of the bridge it was sent into (br_fpath_tx_to).
	static bool cacheable(const model::Socket &socket, const Packet &pkt)
	{
		if (pkt.parsed.inner_eth->dst->is_multicast() || pkt.bridge_flooded)
			return false;
		if (socket.protocol == model::Protocol::tcp)
			return found_established(socket, pkt);
		return true;
	}

	// TCP is cached as the series caches it (tcp_v4_rcv, at `process:`, before the state
	// machine): where the segment found an ESTABLISHED socket. Not the handshake's ACK, which
	// finds the request (the child it makes is cached by its first segment), not the SYN-ACK of
	// a connect (SYN_SENT), not a segment to CLOSE_WAIT. The model gives the state the segment
	// left; the event says what it found.
	static bool found_established(const model::Socket &socket, const Packet &pkt)
	{
		if (!pkt.tcp_event)
			return false;
		switch (*pkt.tcp_event) {
		case model::TcpEvent::child_created:
		case model::TcpEvent::connection_established:
			return false;
		case model::TcpEvent::fin_received: // ESTABLISHED → CLOSE_WAIT
			return true;
		default:
			// The state as found: these events change none (a reset takes the socket out
			// of the tables, and the series' entry goes with it at tcp_set_state).
			return socket.state == model::SocketState::established;
		}
	}

	// The sender's CPU is not in the capture: a flow stays on one CPU, as XPS keeps it.
	unsigned tx_cpu(const fpmap_flow &key) const { return tx_hash(key) % map_.cpus(); }
	static std::uint32_t tx_hash(const fpmap_flow &key)
	{
		std::uint32_t h = key.saddr * 0x9E3779B1u;
		h = (h ^ key.daddr) * 0x85EBCA77u;
		h = (h ^ (static_cast<std::uint32_t>(key.sport) << 16 | key.dport)) * 0xC2B2AE3Du;
		return h ^ (h >> 16) ^ key.proto;
	}

	FlowMap map_;
	std::uint64_t mac_rejects_ = 0;
	std::uint64_t learning_misses_ = 0;
	std::uint64_t forward_misses_ = 0;
	std::uint64_t netfilter_misses_ = 0;
	std::uint64_t tx_netfilter_declines_ = 0;
	std::uint64_t insert_refusals_ = 0;
};

} // namespace

std::unique_ptr<FastPath> make_fixed_fastpath(const Scenario &scenario)
{
	return std::make_unique<FixedFastPath>(scenario);
}

} // namespace econsim::sim
