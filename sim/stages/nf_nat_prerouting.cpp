// kube-proxy's NAT at nat PREROUTING in the host namespace (6.1 net/netfilter/nf_nat_core.c,
// nf_nat_inet_fn; iptables' KUBE-NODEPORTS chain), as far as the scenario declares it (host.nat):
// the replay does not rewrite addresses, so a frame whose way only the NAT decides ends here under
// a reason of its own. A NodePort frame to one of the host's addresses is DNAT'ed to its pod
// (`nat_nodeport`: forwarded on by the rewritten address, which the replay does not follow); a
// frame from a NodePort's pod to one of the host's addresses is a reply conntrack turns back to the
// client (`nat_reply`). The hook runs before routing: for the outer packet in ip_rcv, for a routed
// VXLAN device's decapsulated one in ip_route_input.
#include "stages.h"

#include "model/topology.h"

namespace econsim::sim {

bool nf_nat_prerouting(StageContext &ctx, Packet &pkt, Stage stage, const Ipv4Header &ip,
		       const std::optional<TransportHeader> &l4)
{
	const std::vector<NatRule> &rules = ctx.host.scenario().host.nat;
	if (rules.empty() || !l4 || !l4->has_ports() || ip.is_fragment() || (!l4->is_tcp() && !l4->is_udp()))
		return true;
	// KUBE-NODEPORTS is reached by `-m addrtype --dst-type LOCAL`, and the masquerade address a
	// reply comes back to is one of the host's: both need a local destination.
	if (ctx.host.model().topology().address_type(kHostNamespace, ip.dst) != model::AddressType::local)
		return true;
	const SocketProto proto = l4->is_tcp() ? SocketProto::tcp : SocketProto::udp;
	const Endpoint source{ip.src, l4->src_port};
	for (const NatRule &rule : rules) {
		if (rule.proto != proto)
			continue;
		const bool nodeport = rule.port == l4->dst_port;
		if (!nodeport && rule.to != source)
			continue;
		pkt.flow = model::FiveTuple{proto == SocketProto::tcp ? model::Protocol::tcp : model::Protocol::udp,
					    {{ip.src, l4->src_port}, {ip.dst, l4->dst_port}}};
		if (nodeport)
			pkt.ignore(stage, "nat_nodeport", [&] {
				return "NodePort " + std::string(to_string(proto)) + " " + std::to_string(rule.port) +
				       ": kube-proxy DNATs it to " + to_string(rule.to) + "; where it goes then is the NAT's";
			});
		else
			pkt.ignore(stage, "nat_reply", [&] {
				return "from " + to_string(rule.to) + ", NodePort " + std::to_string(rule.port) +
				       "'s pod: conntrack turns the reply back to the client";
			});
		return false;
	}
	return true;
}

} // namespace econsim::sim
