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
	std::string explanation; // written only while tracing
	const model::UdpAnswer found =
		sockets.udp_find(kHostNamespace, tuple, static_cast<int>(pkt.cpu), pkt.tracing ? &explanation : nullptr);
	if (found.found() && found.sockets.front()->origin == model::SocketOrigin::vxlan_device) {
		// udp_queue_rcv_one_skb checks a non-zero checksum before encap_rcv, unless the device
		// vouched for it (CHECKSUM_UNNECESSARY) or it is still to be filled (CHECKSUM_PARTIAL, as
		// on veth): captures cannot tell those apart, so L4 checksums are reported, not enforced.
		pkt.step(Stage::udp_rcv, [&] { return "to " + found.sockets.front()->name; }, explanation);
		return true;
	}
	// A datagram for a host process: the same socket-level receive as in a container, and the
	// end of this packet's path (false: nothing after this stage).
	pkt.flow = model::FiveTuple{model::Protocol::udp, tuple};
	pkt.step(Stage::udp_rcv, "not a VXLAN port", explanation);
	if (receive_on_socket(ctx, pkt))
		deliver(ctx, pkt);
	return false;
}

} // namespace econsim::sim
