// A NAPI context, as net_rx_action sees one: something to poll, at most `weight` packets a poll,
// on a CPU's poll list while it is scheduled (NAPI_STATE_SCHED). One per CPU for each of the
// three receive stages: the NIC's queue, the VXLAN device's gro_cell, the backlog.
#pragma once

#include <boost/intrusive/list.hpp>

#include <string_view>

namespace econsim::sim::timing {

enum class NapiKind { nic, gro_cell, backlog };

constexpr std::string_view to_string(NapiKind kind)
{
	switch (kind) {
	case NapiKind::nic: return "nic";
	case NapiKind::gro_cell: return "gro_cells";
	case NapiKind::backlog: return "backlog";
	}
	return "?";
}

struct Napi : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>> {
	NapiKind kind;
	int weight;
	bool scheduled = false; // NAPI_STATE_SCHED: on a poll list, or being polled

	Napi(NapiKind kind_, int weight_) : kind(kind_), weight(weight_) {}
};

using NapiList = boost::intrusive::list<Napi>;

} // namespace econsim::sim::timing
