// ip_finish_output2 → ip_neigh_for_gw → neigh_output (net/ipv4/ip_output.c): the next hop's MAC,
// then dev_queue_xmit on the route's device. A bridge (flannel's cni0) goes on to br_dev_xmit;
// a veth's host end (Calico's cali*) hands the frame to the container end here (veth_xmit's
// checks: carrier, then eth_type_trans on the container's eth0); any other device (the VXLAN
// device, the NIC) sends it off the host.
#include "stages.h"

#include "model/route.h"
#include "model/topology.h"

namespace econsim::sim {

bool neigh_output(StageContext &ctx, Packet &pkt)
{
	const model::Topology &topology = ctx.host.model().topology();
	const std::string &out = pkt.route->device;
	std::optional<model::MacAddress> mac = ctx.host.model().routing().resolve_neighbour(topology, out, pkt.next_hop);
	if (!mac) {
		// __neigh_event_send would queue the packet and ask ARP; the capture holds no answer.
		pkt.drop(Stage::neigh_output, "neigh_unresolved", [&] {
			return "no permanent neighbour and no container " + model::to_string(pkt.next_hop) + " on " + out;
		});
		return false;
	}
	pkt.next_hop_mac = *mac;
	const model::Device *dev = topology.device(out);
	switch (dev->kind) {
	case model::DeviceKind::bridge:
		pkt.step(Stage::neigh_output, [&] { return model::to_string(pkt.next_hop) + " is " + model::to_string(*mac); },
			 [&] { return "dev_queue_xmit on " + out; });
		return true;
	case model::DeviceKind::veth_host_end: {
		const model::InnerFrameResult &result = topology.veth_transmit(out, *mac, pkt.tracing);
		if (result.receivers.empty()) {
			pkt.drop(Stage::neigh_output, result.drop_reason.empty() ? "no_receiver" : result.drop_reason,
				 result.explanation);
			return false;
		}
		pkt.netns = ctx.host.netns_id(result.receivers.front());
		pkt.step(Stage::neigh_output, [&] { return model::to_string(pkt.next_hop) + " is " + model::to_string(*mac); },
			 result.explanation);
		return true;
	}
	default:
		// Routed back out of the host (to another node): no socket here takes it.
		pkt.ignore(Stage::neigh_output, "forwarded_out", [&] {
			return "sent on " + out + " to " + model::to_string(pkt.next_hop) + " (" + model::to_string(*mac) + ")";
		});
		return false;
	}
}

} // namespace econsim::sim
