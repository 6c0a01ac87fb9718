// br_handle_frame → br_handle_frame_finish (learn the source MAC on the VXLAN port, look up the
// destination) → br_forward or br_flood. The model decides; this stage reports it, tells the fast
// path when learning moved a MAC, since that can change where later frames go, and marks a unicast
// frame it flooded (its FDB did not know the destination), as br_dev_xmit does. With
// br_netfilter on, the frame crosses the host's iptables on its way from port to port
// (br_nf_pre_routing … br_nf_forward_ip: nf_forward, in and out the bridge).
#include "stages.h"

#include "model/topology.h"

namespace econsim::sim {

bool br_handle_frame(StageContext &ctx, Packet &pkt)
{
	model::Topology &topology = ctx.host.model().topology();
	const double now = static_cast<double>(pkt.ts_ns) * 1e-9;
	const model::Device &vxlan = *ctx.host.vxlan_device(pkt.vxlan);
	const model::InnerFrameResult &result =
		topology.deliver_inner_frame(vxlan.name, pkt.inner_src_mac, pkt.inner_dst_mac, now, pkt.tracing);
	const std::string &bridge = vxlan.bridge;
	if (result.fdb_changed && !bridge.empty())
		ctx.fastpath.device_changed(ctx.host.device_id(bridge), FPMAP_EV_FDB_CHANGE);

	if (result.receivers.empty()) {
		pkt.drop(Stage::br_handle_frame, result.drop_reason.empty() ? "bridge_drop" : result.drop_reason,
			 result.explanation);
		return false;
	}
	// A frame to one MAC reaches one container; a broadcast reaches every one, and the inner IPv4
	// destination then picks the one whose address it is (ip_rcv_container).
	std::string_view receiver = result.receivers.front();
	if (result.receivers.size() > 1 && pkt.parsed.inner_ip) {
		for (const std::string &ns : result.receivers) {
			const model::Container *c = topology.container(ns);
			if (c && c->address.address == pkt.parsed.inner_ip->dst) {
				receiver = ns;
				break;
			}
		}
	}
	if (nf_forward_applies(ctx.host, true) &&
	    nf_forward(ctx, pkt, Stage::br_handle_frame, {.in = bridge, .out = bridge}) >
		    NfForward::accepted)
		return false;
	pkt.bridge_flooded = result.flooded;
	pkt.netns = ctx.host.netns_id(receiver);
	auto forwarded = [&] { return "forward on " + bridge + " to " + std::string(receiver); };
	pkt.step(Stage::br_handle_frame, forwarded, result.explanation);
	return true;
}

} // namespace econsim::sim
