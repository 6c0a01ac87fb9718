// __udp4_lib_rcv in the host namespace: the UDP socket lookup decides whether the datagram goes
// to a VXLAN device's socket (encap_rcv = vxlan_rcv) or to a host process's socket.
#include "stages.h"

#include "model/sockets.h"

namespace econsim::sim {

bool udp_rcv(StageContext &ctx, Packet &pkt)
{
	const ParsedFrame &f = pkt.parsed;
	if (f.outer_l4->is_tcp())
		return tcp_rcv(ctx, pkt);

	model::FourTuple tuple = outer_tuple(f);
	const model::Sockets &sockets = ctx.host.model().sockets();
	model::UdpLookupResult found = sockets.udp_lookup(kHostNamespace, tuple, static_cast<int>(pkt.cpu));
	std::string vxlan_socket = model::Sockets::vxlan_socket_name(f.outer_l4->dst_port);
	if (found.found() && found.sockets.front() == vxlan_socket) {
		// udp_queue_rcv_one_skb checks a non-zero checksum before encap_rcv, unless the device
		// vouched for it (CHECKSUM_UNNECESSARY) or it is still to be filled (CHECKSUM_PARTIAL, as
		// on veth): captures cannot tell those apart, so L4 checksums are reported, not enforced.
		pkt.step(Stage::udp_rcv, [&] { return "to " + vxlan_socket; }, found.explanation);
		return true;
	}
	// A datagram for a host process: the same socket-level receive as in a container, and the
	// end of this packet's path (false: nothing after this stage).
	pkt.flow = model::FiveTuple{model::Protocol::udp, tuple};
	pkt.step(Stage::udp_rcv, "not a VXLAN port", found.explanation);
	if (receive_on_socket(ctx, pkt))
		deliver(ctx, pkt);
	return false;
}

} // namespace econsim::sim
