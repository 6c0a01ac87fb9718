// ip_forward (net/ipv4/ip_forward.c) for a decapsulated packet the host routes on: only a frame
// that was addressed to the device (PACKET_HOST), TTL above 1 (else ICMP time exceeded), and no
// longer than the egress device's MTU when DF is set (else ICMP fragmentation needed); then the
// TTL goes down by one and netfilter's FORWARD chain runs (nf_forward: the host's, where the
// scenario has host.netfilter), in the VXLAN device, out the route's.
#include "stages.h"

#include "model/route.h"
#include "model/topology.h"

namespace econsim::sim {

bool ip_forward(StageContext &ctx, Packet &pkt)
{
	const Ipv4Header &ip = *pkt.parsed.inner_ip;
	const model::Device *egress = ctx.host.model().topology().device(pkt.route->device);
	const std::size_t mtu = ctx.host.mtu(*egress);
	const model::ForwardCheck check =
		model::Routing::forward_check(!pkt.inner_dst_mac.is_multicast(), ip.ttl, ip.total_length, ip.dont_fragment, mtu);
	if (check != model::ForwardCheck::ok) {
		pkt.drop(Stage::ip_forward, model::to_string(check), [&] {
			return "ttl " + std::to_string(ip.ttl) + ", " + std::to_string(ip.total_length) + " bytes" +
			       (ip.dont_fragment ? " DF" : "") + ", " + egress->name + " MTU " + std::to_string(mtu);
		});
		return false;
	}
	pkt.step(Stage::ip_forward, [&] { return "ttl " + std::to_string(ip.ttl) + " → " + std::to_string(ip.ttl - 1); },
		 [&] { return "out of " + egress->name + " (MTU " + std::to_string(mtu) + ")"; });
	if (!nf_forward_applies(ctx.host, false))
		return true;
	const std::string &in = ctx.host.vxlan_device(pkt.vxlan)->name;
	return nf_forward(ctx, pkt, Stage::ip_forward, {.in = in, .out = egress->name}) <= NfForward::accepted;
}

} // namespace econsim::sim
