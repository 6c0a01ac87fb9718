#include "timing/flow_order.h"

namespace econsim::sim::timing {

std::optional<FlowKey> flow_key(const ParsedFrame &f)
{
	if (!f.is_vxlan() || !f.inner_ip || !f.inner_l4 || !f.inner_l4->has_ports())
		return std::nullopt;
	return FlowKey{f.inner_ip->src.value, f.inner_ip->dst.value, f.inner_l4->src_port, f.inner_l4->dst_port,
		       f.inner_l4->protocol, f.vxlan->vni};
}

} // namespace econsim::sim::timing
