// The socket lookup and the socket-level receive, asking model/: __udp4_lib_lookup (then
// __udp_queue_rcv_skb's bookkeeping), or tcp_v4_rcv (__inet_lookup_skb and the state machine).
// A fast-path hit brings its socket: for TCP only the state machine runs (receive_on_cached_socket);
// a UDP hit's receive is HostPipeline's.
#include "stages.h"

#include <span>

#include "model/sockets.h"

namespace econsim::sim {

namespace {

// The kernel picks a reuseport member with a per-boot random seed (reuseport_select_sock); the
// replay picks one with a fixed hash of the 4-tuple, so a flow stays on one member as in the
// kernel, and expectations name the whole group.
const model::Socket *reuseport_member(std::span<const model::Socket *const> members, const model::FourTuple &t)
{
	std::uint64_t h = t.source.address.value;
	h = h * 0x9E3779B97F4A7C15ull ^ t.source.port;
	h = h * 0x9E3779B97F4A7C15ull ^ t.destination.address.value;
	h = h * 0x9E3779B97F4A7C15ull ^ t.destination.port;
	return members[(h >> 32) % members.size()];
}

bool receive_udp(StageContext &ctx, Packet &pkt)
{
	std::string explanation; // written only while tracing
	const model::UdpAnswer r = ctx.host.model().sockets().udp_find_and_receive(
		ctx.host.namespace_name(pkt.netns), pkt.flow->addresses, static_cast<int>(pkt.cpu),
		pkt.tracing ? &explanation : nullptr);
	const model::Socket *taker = nullptr;
	switch (r.match) {
	case model::UdpMatch::no_socket:
		pkt.drop(Stage::socket_lookup, "no_socket", explanation);
		return false;
	case model::UdpMatch::socket:
	case model::UdpMatch::every_socket: // each socket gets a copy; the verdict names the first
		taker = r.sockets.front();
		break;
	case model::UdpMatch::reuseport_group:
		taker = reuseport_member(r.sockets, pkt.flow->addresses);
		break;
	}
	// A socket the host did not open (a VXLAN device's own) gets its cookie when first found.
	pkt.socket = ctx.host.adopt_socket(taker->name);
	pkt.step(Stage::socket_lookup, [&] { return "udp → " + taker->name; }, explanation);
	return true;
}

// What tcp_v4_rcv does once it holds the socket, wherever the socket came from.
bool tcp_received(StageContext &ctx, Packet &pkt, const model::TcpResult &r)
{
	pkt.tcp_event = r.event;
	if (r.event == model::TcpEvent::child_created)
		ctx.host.adopt_socket(r.socket);
	if (r.event == model::TcpEvent::socket_reset)
		ctx.host.forget_socket(r.socket, ctx.fastpath);
	if (!r.delivered) {
		pkt.drop(Stage::socket_lookup, r.drop_reason.empty() ? model::to_string(r.event) : r.drop_reason,
			 r.explanation);
		return false;
	}
	pkt.socket = ctx.host.adopt_socket(r.socket);
	pkt.step(Stage::socket_lookup,
		 [&] { return std::string("tcp → ") + r.socket + " (" + model::to_string(r.event) + ")"; },
		 r.explanation);
	return true;
}

const TransportHeader &l4_of(const Packet &pkt)
{
	if (pkt.reassembled_l4)
		return *pkt.reassembled_l4;
	return pkt.parsed.is_vxlan() ? *pkt.parsed.inner_l4 : *pkt.parsed.outer_l4;
}

bool receive_tcp(StageContext &ctx, Packet &pkt)
{
	const std::string &ns = ctx.host.namespace_name(pkt.netns);
	return tcp_received(ctx, pkt,
			    ctx.host.model().sockets().tcp_receive(ns, pkt.flow->addresses, tcp_flags(l4_of(pkt))));
}

} // namespace

bool receive_on_cached_socket(StageContext &ctx, Packet &pkt)
{
	const std::string &ns = ctx.host.namespace_name(pkt.netns);
	return tcp_received(ctx, pkt,
			    ctx.host.model().sockets().tcp_receive_on(ctx.host.socket_name(pkt.socket), ns, pkt.flow->addresses,
								      tcp_flags(l4_of(pkt))));
}

bool receive_beside_cached_socket(StageContext &ctx, Packet &pkt)
{
	const std::uint64_t cached = pkt.socket;
	pkt.socket = 0;
	if (pkt.flow->protocol == model::Protocol::tcp) {
		// tcp_v4_rcv runs its state machine on skb->econ_sk whatever a lookup would say.
		if (!receive_tcp(ctx, pkt))
			return false;
	} else {
		// __udp4_lib_rcv: udp_unicast_rcv_skb(econ_sk) with no lookup and no reference.
		ctx.host.model().sockets().udp_find_and_receive(ctx.host.namespace_name(pkt.netns), pkt.flow->addresses,
								static_cast<int>(pkt.cpu));
	}
	pkt.socket = cached;
	return true;
}

bool receive_on_socket(StageContext &ctx, Packet &pkt)
{
	return pkt.flow->protocol == model::Protocol::udp ? receive_udp(ctx, pkt) : receive_tcp(ctx, pkt);
}

bool socket_lookup(StageContext &ctx, Packet &pkt)
{
	return receive_on_socket(ctx, pkt);
}

model::TcpFlags tcp_flags(const TransportHeader &l4)
{
	return model::TcpFlags{(l4.tcp_flags & 0x02) != 0, (l4.tcp_flags & 0x10) != 0, (l4.tcp_flags & 0x01) != 0,
			       (l4.tcp_flags & 0x04) != 0};
}

} // namespace econsim::sim
