// tcp_v4_rcv in the host namespace: plain TCP to the host itself (no tunnel), which ip_local_deliver
// hands to TCP where udp_rcv's frames go to UDP. The socket-level receive is the containers' one.
#include "stages.h"

namespace econsim::sim {

bool tcp_rcv(StageContext &ctx, Packet &pkt)
{
	pkt.flow = model::FiveTuple{model::Protocol::tcp, outer_tuple(pkt.parsed)};
	pkt.step(Stage::tcp_rcv, "TCP to the host itself");
	if (receive_on_socket(ctx, pkt))
		deliver(ctx, pkt);
	return false;
}

} // namespace econsim::sim
