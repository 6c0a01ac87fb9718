// A routed VXLAN device (flannel.1, vxlan.calico) hands the decapsulated frame to the host's own
// IP stack: eth_type_trans on the device, ip_rcv_core's checks of the inner header, then
// ip_route_input_noref → ip_route_input_slow (net/ipv4/route.c), which the model decides:
// the host's own address (ip_local_deliver_host next), a route to forward on (ip_forward next),
// or a drop (martian, rp_filter, no route, forwarding disabled).
#include "stages.h"

#include "model/route.h"
#include "model/topology.h"

namespace econsim::sim {

bool ip_route_input(StageContext &ctx, Packet &pkt)
{
	const ParsedFrame &f = pkt.parsed;
	const model::Topology &topology = ctx.host.model().topology();
	// eth_type_trans: a unicast frame for another MAC is PACKET_OTHERHOST, which ip_rcv_core drops
	// (SKB_DROP_REASON_OTHERHOST) before it looks at the header.
	const model::Device *dev = ctx.host.vxlan_device(pkt.vxlan);
	if (!pkt.inner_dst_mac.is_multicast() && dev->mac != pkt.inner_dst_mac) {
		pkt.drop(Stage::ip_route_input, "other_host",
			 [&] { return to_string(pkt.inner_dst_mac) + " is not " + dev->name + "'s MAC (PACKET_OTHERHOST)"; });
		return false;
	}
	if (!inner_ip_rcv_core(Stage::ip_route_input, pkt)) // ARP for the device: the host's ARP answers
		return false;
	if (!nf_nat_prerouting(ctx, pkt, Stage::ip_route_input, *f.inner_ip, f.inner_l4))
		return false;
	std::string explanation; // written only while tracing
	const model::RouteInputResult result = ctx.host.model().routing().route_input(
		topology, dev->name, f.inner_ip->src, f.inner_ip->dst,
		pkt.tracing ? &explanation : nullptr);
	switch (result.kind) {
	case model::RouteInputKind::drop:
		pkt.drop(Stage::ip_route_input, result.drop_reason, explanation);
		return false;
	case model::RouteInputKind::local:
	case model::RouteInputKind::broadcast:
		pkt.route = nullptr;
		pkt.step(Stage::ip_route_input, "to the host", explanation);
		return true;
	case model::RouteInputKind::forward:
		pkt.route = result.route;
		pkt.next_hop = result.next_hop;
		pkt.step(Stage::ip_route_input, [&] { return "forward on " + result.route->device; }, explanation);
		return true;
	}
	return false;
}

} // namespace econsim::sim
