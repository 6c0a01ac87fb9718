// The end of the slow path: the datagram or segment is on its socket. The fast path hears of it
// here, as the kernel patch's insert hooks sit where udp_rcv and tcp_v4_rcv found the socket.
#include "stages.h"

namespace econsim::sim {

bool deliver(StageContext &ctx, Packet &pkt)
{
	pkt.deliver(ctx.host.socket_name(pkt.socket));
	if (!pkt.verdict.path)
		pkt.verdict.path = Path::slow;
	if (pkt.verdict.path == Path::slow)
		ctx.fastpath.rx_delivered(ctx.host, pkt);
	return true;
}

} // namespace econsim::sim
