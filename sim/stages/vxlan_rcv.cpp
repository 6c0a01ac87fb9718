// vxlan_rcv: the VXLAN header's flags, the VNI's device (vxlan_vs_find_vni), decapsulation
// (__iptunnel_pull_header, vxlan_set_mac). What reaches the bridge is the inner Ethernet frame.
#include "stages.h"

#include "model/topology.h"

namespace econsim::sim {

bool vxlan_rcv(StageContext &ctx, Packet &pkt)
{
	const ParsedFrame &f = pkt.parsed;
	if (!f.vxlan) {
		pkt.drop(Stage::vxlan_rcv, reason_name(f.reason), reason_description(f.reason));
		return false;
	}
	pkt.verdict.vni = f.vxlan->vni;
	for (ParseReason r : {ParseReason::vxlan_flags, ParseReason::vxlan_reserved}) {
		if (f.has(r)) {
			pkt.drop(Stage::vxlan_rcv, reason_name(r), reason_description(r));
			return false;
		}
	}
	const model::Device *dev = ctx.host.model().topology().vxlan_for(f.outer_l4->dst_port, f.vxlan->vni);
	if (!dev) {
		pkt.drop(Stage::vxlan_rcv, "unknown_vni", [&] {
			return "no VXLAN device that is up has VNI " + std::to_string(f.vxlan->vni) + " on port " +
			       std::to_string(f.outer_l4->dst_port);
		});
		return false;
	}
	if (!f.inner_eth || !f.inner_eth->src || !f.inner_eth->dst) {
		pkt.drop(Stage::vxlan_rcv, reason_name(f.reason), reason_description(f.reason));
		return false;
	}
	const fpmap_dev device = ctx.host.vxlan_id(*dev);
	pkt.vxlan = device;
	// vxlan_snoop: the device learns where the inner source lives; a move changes transmits.
	if (f.link && ctx.host.learns(device.ifindex) &&
	    ctx.host.learn_remote(device.ifindex, *f.inner_eth->src, {f.outer_ip->src, f.link->src})) {
		ctx.fastpath.device_changed(device, FPMAP_EV_FDB_CHANGE);
		ctx.fastpath.rx_past_vxlan_snoop(pkt);
	}
	pkt.inner_src_mac = *f.inner_eth->src;
	pkt.inner_dst_mac = *f.inner_eth->dst;
	pkt.step(Stage::vxlan_rcv, [&] { return "VNI " + std::to_string(f.vxlan->vni) + " → " + dev->name; },
		 [&] { return "decapsulated: " + to_string(*f.inner_eth->src) + " > " + to_string(*f.inner_eth->dst); });
	return true;
}

} // namespace econsim::sim
