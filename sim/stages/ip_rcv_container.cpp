// ip_rcv_core and ip_route_input_noref for the inner packet, in the container's namespace.
#include "stages.h"

namespace econsim::sim {

bool inner_ip_rcv_core(Stage stage, Packet &pkt)
{
	const ParsedFrame &f = pkt.parsed;
	if (!f.inner_ip) {
		if (f.reason == ParseReason::inner_not_ipv4) {
			// ARP inside the tunnel: the receiving stack's own ARP answers it, no socket.
			pkt.ignore(stage, "inner_not_ipv4", "inner ethertype is not IPv4");
			return false;
		}
		pkt.drop(stage, reason_name(f.reason), reason_description(f.reason));
		return false;
	}
	for (ParseReason r : {ParseReason::inner_vlan_tagged, ParseReason::inner_bad_ip_checksum}) {
		if (f.has(r)) {
			pkt.drop(stage, reason_name(r), reason_description(r));
			return false;
		}
	}
	return true;
}

bool ip_rcv_container(StageContext &ctx, Packet &pkt)
{
	const ParsedFrame &f = pkt.parsed;
	if (!inner_ip_rcv_core(Stage::ip_rcv_container, pkt))
		return false;
	const std::string &ns = ctx.host.namespace_name(pkt.netns);
	if (!ip_local_deliver(ctx, pkt,
			      {.stage = Stage::ip_rcv_container, .level = "inner", .ns = ns, .ip = *f.inner_ip,
			       .l4 = f.inner_l4, .reassembles = true}))
		return false;
	if (f.inner_ip->is_fragment()) {
		pkt.step(Stage::ip_rcv_container, [&] { return "local delivery in " + ns + ": a fragment"; },
			 "ip_local_deliver hands it to ip_defrag first");
		return true;
	}
	std::uint8_t proto = f.inner_ip->protocol;
	pkt.flow = model::FiveTuple{
		proto == kIpProtoUdp ? model::Protocol::udp : model::Protocol::tcp,
		{{f.inner_ip->src, f.inner_l4->src_port}, {f.inner_ip->dst, f.inner_l4->dst_port}}};
	pkt.step(Stage::ip_rcv_container, [&] { return "local delivery in " + ns; },
		 [&] { return to_string(f.inner_ip->dst) + " is " + ns + "'s"; });
	return true;
}

} // namespace econsim::sim
