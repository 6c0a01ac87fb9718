// The host namespace's netfilter on a forwarded inner packet (host.netfilter): conntrack at
// PRE_ROUTING, the filter table's FORWARD chain, conntrack's confirmation at POST_ROUTING
// (model/netfilter.h). A bridged frame meets it through br_netfilter when
// bridge-nf-call-iptables is on (6.1 net/bridge/br_netfilter_hooks.c: br_nf_pre_routing,
// br_nf_forward_ip with in and out the bridge, br_nf_post_routing), a routed one in ip_forward
// (NF_INET_FORWARD, in the device it came from, out the route's). The container's frames on
// their way out cross the same hooks (vxlan_xmit runs this for them): that is how conntrack
// learns that a flow the container started is ESTABLISHED.
#include "stages.h"

namespace econsim::sim {

NfForward nf_forward(StageContext &ctx, Packet &pkt, Stage stage, const NfDevices &devices)
{
	model::Netfilter *nf = ctx.host.model().netfilter(); // the callers asked nf_forward_applies
	const ParsedFrame &f = pkt.parsed;
	if (!f.inner_ip) // not IPv4: iptables does not see it (ARP is arptables', IPv6 ip6tables')
		return NfForward::not_ipv4;
	if (f.inner_ip->is_fragment() || !f.inner_l4 || !f.inner_l4->has_ports() ||
	    (!f.inner_l4->is_udp() && !f.inner_l4->is_tcp())) {
		// br_netfilter would reassemble fragments (nf_defrag_ipv4) and conntrack track ICMP: the
		// model has neither, so the frame is reported, not guessed at (a transmitted one was sent:
		// its verdict stays, the count says it was not tracked).
		nf->count_not_modelled();
		auto why = [&] {
			return std::string(f.inner_ip->is_fragment() ? "an IPv4 fragment" : "not UDP or TCP with ports") +
			       " crossing the host's netfilter (host.netfilter): the model tracks whole UDP and TCP packets only";
		};
		if (devices.transmitted)
			pkt.step(stage, "netfilter: not tracked", why);
		else
			pkt.ignore(stage, "netfilter_not_modelled", why);
		return NfForward::not_modelled;
	}
	const TransportHeader &l4 = *f.inner_l4;
	const model::ForwardedPacket packet{
		.flow = {l4.is_tcp() ? model::Protocol::tcp : model::Protocol::udp,
			 {{f.inner_ip->src, l4.src_port}, {f.inner_ip->dst, l4.dst_port}}},
		.tcp = l4.is_tcp() ? tcp_flags(l4) : model::TcpFlags{},
		.in = devices.in,
		.out = devices.out,
		.now_ns = pkt.ts_ns,
	};
	const model::ForwardVerdict verdict = nf->forward(packet);
	const auto decided_by = [&] {
		const model::FilterChain &chain = nf->config().forward;
		return std::string(to_string(verdict.state)) + ", FORWARD " +
		       (verdict.rule < 0 ? std::string("policy")
					 : "rule " + std::to_string(verdict.rule + 1) + " (scenario line " +
						   std::to_string(chain.rules[static_cast<std::size_t>(verdict.rule)].line) + ")") +
		       ", in " + std::string(devices.in) + " out " + std::string(devices.out);
	};
	if (!verdict.accept) {
		if (devices.transmitted) // the capture shows it sent: the scenario's ruleset is not the node's
			pkt.step(stage, "netfilter would drop it", decided_by);
		else
			pkt.drop(stage, "netfilter_drop", decided_by);
		return NfForward::dropped;
	}
	pkt.step(stage, "netfilter accepts", decided_by);
	return NfForward::accepted;
}

} // namespace econsim::sim
