// The routed overlays' way from the VXLAN device to the veth (flannel, Calico): the device has an
// address and no bridge, so the host's IP stack routes the decapsulated packet. Chosen by the
// scenario's topology (HostPipeline::gro_cell_segment), never by device names.
#include "host_pipeline.h"

#include "model/topology.h"
#include "stages/stages.h"

namespace econsim::sim {

bool HostPipeline::routed_segment(Packet &pkt)
{
	if (!run(Stage::ip_route_input, ip_route_input, pkt))
		return false;
	if (!pkt.route) {
		// ip_local_deliver_host ends the frame: delivered to a host socket, or the host's stack.
		run(Stage::ip_local_deliver_host, ip_local_deliver_host, pkt);
		return false;
	}
	if (!run(Stage::ip_forward, ip_forward, pkt) || !run(Stage::neigh_output, neigh_output, pkt))
		return false;
	const model::Device *egress = host_.model().topology().device(pkt.route->device);
	if (egress->kind == model::DeviceKind::bridge && !run(Stage::br_dev_xmit, br_dev_xmit, pkt))
		return false;
	return run(Stage::veth_xmit, veth_xmit, pkt);
}

} // namespace econsim::sim
