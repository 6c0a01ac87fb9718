// ip_local_deliver for a decapsulated packet the host routed to itself (an address of flannel.1,
// cni0, the NIC, ...): the host's own stack takes it, reassembling a fragmented one first. A
// socket the scenario opened in the host namespace on the destination port receives it as the
// model decides (delivered, or its drop); without one the scenario does not say who takes it (a
// host process, or conntrack reversing kube-proxy's NAT), and the verdict says the host's stack got
// it: `ignore: host_stack`.
#include "stages.h"

#include "model/sockets.h"

namespace econsim::sim {

namespace {

bool scenario_socket_on(const model::Sockets &sockets, model::Protocol protocol, std::uint16_t port)
{
	bool found = false;
	sockets.for_each([&](const model::Socket &s) {
		found = found || (s.ns == kHostNamespace && s.protocol == protocol && s.port == port &&
				  s.origin != model::SocketOrigin::vxlan_device);
	});
	return found;
}

} // namespace

bool ip_local_deliver_host(StageContext &ctx, Packet &pkt)
{
	const ParsedFrame &f = pkt.parsed;
	if (!ip_local_deliver(ctx, pkt,
			      {.stage = Stage::ip_local_deliver_host, .level = "inner", .ns = kHostNamespace,
			       .ip = *f.inner_ip, .l4 = f.inner_l4, .reassembles = true}))
		return false;
	pkt.netns = kHostNetnsId;
	// An inner fragment the host routed to itself: ip_local_deliver → ip_defrag
	// (IP_DEFRAG_LOCAL_DELIVER) in the host namespace, as in a container (net/ipv4/ip_input.c).
	// Until the host kernel showed it reassembling them (kernel-replay/random-cases, seed 14,
	// case-029), the model dropped them as `fragment`.
	if (f.inner_ip->is_fragment() && !ip_defrag(ctx, pkt))
		return false;
	const TransportHeader &l4 = pkt.reassembled_l4 ? *pkt.reassembled_l4 : *f.inner_l4;
	const model::Protocol protocol = l4.is_udp() ? model::Protocol::udp : model::Protocol::tcp;
	pkt.flow = model::FiveTuple{
		protocol, {{f.inner_ip->src, l4.src_port}, {f.inner_ip->dst, l4.dst_port}}};
	if (!scenario_socket_on(ctx.host.model().sockets(), protocol, l4.dst_port)) {
		pkt.ignore(Stage::ip_local_deliver_host, "host_stack", [&] {
			return model::to_string(*pkt.flow) + ": to the host's own stack; no socket of the scenario is on the port";
		});
		return false;
	}
	pkt.step(Stage::ip_local_deliver_host, "to a host socket", [&] { return model::to_string(*pkt.flow); });
	if (receive_on_socket(ctx, pkt))
		deliver(ctx, pkt);
	return false;
}

} // namespace econsim::sim
