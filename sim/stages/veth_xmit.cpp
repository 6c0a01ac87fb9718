// veth_xmit → veth_forward_skb → netif_rx: the frame crosses from the bridge's port into the
// container's namespace (the per-CPU backlog, softirq #3). Carrier and the peer's state were
// the model's to check when it forwarded; what is left is the namespace crossing itself.
#include "stages.h"

#include "model/topology.h"

namespace econsim::sim {

bool veth_xmit(StageContext &ctx, Packet &pkt)
{
	const model::Container *c = ctx.host.container(pkt.netns);
	if (!c) {
		pkt.drop(Stage::veth_xmit, "no_container",
			 [&] { return ctx.host.namespace_name(pkt.netns) + " has no veth pair"; });
		return false;
	}
	pkt.step(Stage::veth_xmit, [&] { return c->host_end + " → " + c->container_end; },
		 [&] { return "into namespace " + c->name; });
	return true;
}

} // namespace econsim::sim
