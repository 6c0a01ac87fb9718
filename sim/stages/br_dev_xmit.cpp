// br_dev_xmit (net/bridge/br_device.c): a frame the host routed into a bridge (flannel's cni0)
// goes to the port its destination MAC is learned on, or floods; the bridge learns nothing from
// its own frames. The container's eth0 then takes its own MAC.
#include "stages.h"

#include "model/topology.h"

namespace econsim::sim {

bool br_dev_xmit(StageContext &ctx, Packet &pkt)
{
	const std::string &bridge = pkt.route->device;
	const double now = static_cast<double>(pkt.ts_ns) * 1e-9;
	const model::InnerFrameResult &result =
		ctx.host.model().topology().bridge_transmit(bridge, pkt.next_hop_mac, now, pkt.tracing);
	if (result.receivers.empty()) {
		pkt.drop(Stage::br_dev_xmit, result.drop_reason.empty() ? "bridge_drop" : result.drop_reason,
			 result.explanation);
		return false;
	}
	pkt.bridge_flooded = result.flooded;
	const std::string &receiver = result.receivers.front();
	pkt.netns = ctx.host.netns_id(receiver);
	pkt.step(Stage::br_dev_xmit, [&] { return "forward on " + bridge + " to " + receiver; }, result.explanation);
	return true;
}

} // namespace econsim::sim
