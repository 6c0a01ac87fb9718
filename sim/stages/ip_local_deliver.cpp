// ip_route_input_noref → ip_local_deliver for one level of the packet, shared by ip_rcv (the outer
// header, in the host namespace) and ip_rcv_container (the inner one, in a container's): the
// destination is an address of the namespace, the datagram is whole (or, inner, a fragment for
// ip_defrag), and it is UDP or TCP with ports, which is all a socket can take.
#include "stages.h"

#include "model/topology.h"

namespace econsim::sim {

model::FourTuple outer_tuple(const ParsedFrame &f)
{
	return model::FourTuple{{f.outer_ip->src, f.outer_l4->src_port},
				{f.outer_ip->dst, f.outer_l4->dst_port}};
}

bool ip_local_deliver(StageContext &ctx, Packet &pkt, const LocalDelivery &at)
{
	const ParsedFrame &f = pkt.parsed;
	model::AddressType type = ctx.host.model().topology().address_type(at.ns, at.ip.dst);
	if (type == model::AddressType::remote) {
		// ip_forward is off (and would send it elsewhere): nothing here takes it.
		pkt.drop(at.stage, "not_local", [&] {
			return to_string(at.ip.dst) + " is not an address of " +
			       (at.ns == kHostNamespace ? std::string("the host") : std::string(at.ns));
		});
		return false;
	}
	if (at.ip.is_fragment()) {
		if (at.reassembles)
			return true; // ip_defrag's to decide, before any protocol sees it
		// Every caller reassembles now (ip_defrag_host hands on a whole datagram): kept so that
		// a fragment never reaches a socket lookup as if it were whole.
		pkt.drop(at.stage, "fragment", [&] { return std::string(at.level) + " IPv4 fragment: reassembly is not modelled here"; });
		return false;
	}
	std::uint8_t proto = at.ip.protocol;
	if (proto != kIpProtoUdp && proto != kIpProtoTcp) {
		pkt.ignore(at.stage, "not_tcp_udp", [&] { return "IP protocol " + std::to_string(proto) + " is the kernel's own"; });
		return false;
	}
	if (!at.l4 || !at.l4->has_ports()) {
		pkt.drop(at.stage, reason_name(f.reason), reason_description(f.reason));
		return false;
	}
	return true;
}

} // namespace econsim::sim
