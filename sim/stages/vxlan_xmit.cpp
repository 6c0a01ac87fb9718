// vxlan_xmit → vxlan_xmit_one → udp_tunnel_xmit_skb: what the host's VXLAN device writes around a
// container's frame. A transmitted frame in the capture is checked against it: fields the
// kernel decides are compared, fields it randomises (IP id) are not, and the outer UDP source
// port (udp_flow_src_port: a hash of the inner flow into the local port range) is checked for
// its range and for staying the same for the whole flow.
#include "stages.h"

#include "model/sockets.h"
#include "model/topology.h"

namespace econsim::sim {

namespace {

// A VXLAN device made with defaults (ttl 0 → ip4_dst_hoplimit's 64, tos 0 → only the inner ECN
// bits, df unset → DF clear); measured on the recordings in traces/.
constexpr std::uint8_t kDefaultTtl = 64;

// inet_get_local_port_range's default: the range VXLAN's source ports come from.
constexpr std::uint16_t kSourcePortLow = 32768;
constexpr std::uint16_t kSourcePortHigh = 60999;

// The socket that sent the inner packet, as its cookie (0: none): a TCP connection's socket, or
// the UDP socket bound to the source port (a connected one to this peer first).
std::uint64_t sending_socket(const OverlayHost &host, std::uint32_t netns, const model::FiveTuple &sent)
{
	if (sent.protocol == model::Protocol::tcp) {
		model::FourTuple as_received{sent.addresses.destination, sent.addresses.source};
		const model::Socket *s = host.model().sockets().tcp_established(host.namespace_name(netns), as_received);
		return s ? host.socket_cookie(s->name) : 0;
	}
	return host.udp_sender(netns, sent.addresses.source.port, sent.addresses.destination);
}

const model::Container *container_with_mac(const model::Topology &topology, const std::string &bridge,
					   const model::MacAddress &mac)
{
	for (const auto &[name, c] : topology.containers())
		if (c.bridge == bridge && c.mac == mac)
			return &c;
	return nullptr;
}

// A routed VXLAN device (no bridge) sends what the host routed to it, with its own MAC as the
// inner source: the sender is the container whose address is the inner source.
const model::Container *routed_sender(const model::Topology &topology, const model::Device &vxlan, const ParsedFrame &f)
{
	if (!f.inner_ip || vxlan.mac != *f.inner_eth->src)
		return nullptr;
	for (const auto &[name, c] : topology.containers())
		if (c.address.address == f.inner_ip->src)
			return &c;
	return nullptr;
}

// The first field where the transmitted frame differs from what the VXLAN device would write.
std::optional<std::string> encapsulation_mismatch(OverlayHost &host, const model::Device &vxlan,
						  const model::Container &sender, const ParsedFrame &f)
{
	const Nic &nic = host.scenario().host.nic;
	if (f.link && f.link->src && *f.link->src != nic.mac)
		return "outer_src_mac";
	if (f.outer_ip->ttl != kDefaultTtl)
		return "outer_ttl";
	if (f.outer_ip->dont_fragment)
		return "outer_df";
	if (f.outer_ip->tos & 0xfc)
		return "outer_dscp";
	if (f.vxlan->flags != kVxlanFlagVni || f.vxlan->reserved_after_flags || f.vxlan->reserved_after_vni)
		return "vxlan_flags";
	if (f.vxlan->vni != vxlan.vni)
		return "vni";
	std::uint16_t sport = f.outer_l4->src_port;
	if (sport < kSourcePortLow || sport > kSourcePortHigh)
		return "outer_src_port_range";
	if (!f.inner_ip || f.inner_ip->src != sender.address.address)
		return "inner_src_ip";
	const int ifindex = host.vxlan_id(vxlan).ifindex;
	const OverlayHost::InnerFlow flow{ifindex, f.inner_ip->protocol,
					  {f.inner_ip->src, f.inner_l4 ? f.inner_l4->src_port : std::uint16_t{0}},
					  {f.inner_ip->dst, f.inner_l4 ? f.inner_l4->dst_port : std::uint16_t{0}}};
	if (auto first = host.outer_source_port(flow, sport); first && *first != sport)
		return "outer_src_port_unstable";
	if (const OverlayHost::RemoteVtep *vtep = host.remote(ifindex, *f.inner_eth->dst)) {
		if (vtep->ip != f.outer_ip->dst)
			return "outer_dst_ip";
		if (vtep->mac && f.link && f.link->dst && *vtep->mac != *f.link->dst)
			return "outer_dst_mac";
	}
	return std::nullopt;
}

// On its way to the VXLAN device the frame passed the sender's bridge, which learnt where its
// source lives (br_handle_frame_finish → br_fdb_update); a move changes where later frames to that
// MAC go, so the fast path hears of it as of any FDB change. The sender's bridge, not the VXLAN
// device's: a flannel pod's frame crosses cni0 and is routed to a VXLAN device that has no bridge
// (random-cases seed 14, case-018: device_id("") threw once cni0's entry had been moved).
void learn_sender(StageContext &ctx, Packet &pkt, const model::Container &sender)
{
	if (!ctx.host.model().topology().learn_sent_frame(sender.name, static_cast<double>(pkt.ts_ns) * 1e-9))
		return;
	ctx.fastpath.device_changed(ctx.host.device_id(sender.bridge), FPMAP_EV_FDB_CHANGE);
	pkt.step(Stage::vxlan_xmit, [&] { return "bridge " + sender.bridge + " learned the sender"; },
		 [&] { return to_string(sender.mac) + " on " + sender.host_end + " (br_fdb_update)"; });
}

// On its way to the VXLAN device the frame crossed the host's netfilter as a forwarded packet:
// bridged (in and out the bridge, with br_netfilter) or routed (in the pod's veth, or flannel's
// cni0 it came up through; out the VXLAN device). Conntrack sees it there, which is what makes a
// flow the container started ESTABLISHED for its replies. The capture shows it sent: a ruleset
// that would drop it is not the node's, and the frame says so.
void forward_sent(StageContext &ctx, Packet &pkt, const model::Device &vxlan, const model::Container &sender)
{
	const bool bridged = !vxlan.bridge.empty();
	if (!nf_forward_applies(ctx.host, bridged))
		return;
	const std::string_view in = bridged || !sender.bridge.empty() ? std::string_view(sender.bridge) : sender.host_end;
	const std::string_view out = bridged ? std::string_view(vxlan.bridge) : std::string_view(vxlan.name);
	if (nf_forward(ctx, pkt, Stage::vxlan_xmit, {.in = in, .out = out, .transmitted = true}) ==
	    NfForward::dropped)
		pkt.verdict.reason = "tx_mismatch_netfilter";
}

} // namespace

bool vxlan_xmit(StageContext &ctx, Packet &pkt)
{
	const ParsedFrame &f = pkt.parsed;
	pkt.verdict.verdict = VerdictKind::transmit;
	pkt.verdict.path = Path::slow;
	if (!f.is_vxlan() || !f.inner_eth || !f.inner_eth->src || !f.inner_eth->dst) {
		pkt.step(Stage::vxlan_xmit, "not encapsulated", "the host's own traffic: nothing to check");
		return true;
	}
	pkt.verdict.vni = f.vxlan->vni;
	const model::Topology &topology = ctx.host.model().topology();
	const model::Device *vxlan = topology.vxlan_for(f.outer_l4->dst_port, f.vxlan->vni);
	if (!vxlan) {
		pkt.verdict.reason = "tx_unknown_vni";
		pkt.step(Stage::vxlan_xmit, "mismatch: tx_unknown_vni", "no VXLAN device has this VNI and port");
		return true;
	}
	const model::Container *sender = vxlan->bridge.empty()
						 ? routed_sender(topology, *vxlan, f)
						 : container_with_mac(topology, vxlan->bridge, *f.inner_eth->src);
	if (!sender && vxlan->bridge.empty() && f.inner_ip &&
	    topology.address_type(model::host_namespace, f.inner_ip->src) == model::AddressType::local) {
		// Routed out by the host's own stack (its address as the source: kube-proxy's masquerade).
		pkt.step(Stage::vxlan_xmit, "the host's own", "sent from an address of the host, not from a container");
		return true;
	}
	if (!sender) {
		pkt.verdict.reason = "tx_unknown_source";
		pkt.step(Stage::vxlan_xmit, "mismatch: tx_unknown_source",
			 [&] { return "no container on " + vxlan->bridge + " has this MAC"; });
		return true;
	}
	pkt.netns = ctx.host.netns_id(sender->name);
	pkt.vxlan = ctx.host.vxlan_id(*vxlan);
	if (f.inner_ip && f.inner_l4 && f.inner_l4->has_ports()) {
		pkt.flow = model::FiveTuple{
			f.inner_l4->is_udp() ? model::Protocol::udp : model::Protocol::tcp,
			{{f.inner_ip->src, f.inner_l4->src_port}, {f.inner_ip->dst, f.inner_l4->dst_port}}};
		pkt.socket = sending_socket(ctx.host, pkt.netns, *pkt.flow);
	}
	if (auto mismatch = encapsulation_mismatch(ctx.host, *vxlan, *sender, f)) {
		learn_sender(ctx, pkt, *sender);
		forward_sent(ctx, pkt, *vxlan, *sender);
		pkt.verdict.reason = "tx_mismatch_" + *mismatch;
		pkt.step(Stage::vxlan_xmit, [&] { return "mismatch: " + *mismatch; }, "the VXLAN device would not write this");
		return true;
	}
	pkt.step(Stage::vxlan_xmit, [&] { return "encapsulation as " + vxlan->name + " writes it"; },
		 [&] {
			 return "from " + sender->name +
				(pkt.socket ? " socket " + ctx.host.socket_name(pkt.socket) : std::string());
		 });
	const bool hook_before_bridge = ctx.fastpath.tx_hit_skips_bridge();
	if (pkt.socket && hook_before_bridge && ctx.fastpath.tx(ctx.host, pkt))
		return true;
	learn_sender(ctx, pkt, *sender);
	forward_sent(ctx, pkt, *vxlan, *sender);
	if (pkt.socket && !hook_before_bridge && ctx.fastpath.tx(ctx.host, pkt))
		return true;
	if (pkt.socket)
		ctx.fastpath.tx_sent(ctx.host, pkt);
	return true;
}

} // namespace econsim::sim
