// Order within a flow (econ-spec.md B18). A flow that switches from the slow path to the fast path
// has packets still in gro_cells and the backlog when its first fast-path packets reach the socket
// from the NIC's poll: those overtake them. Two things here:
//   SlowPathInFlight: per flow, how many of its packets are between the NIC's poll and the end of
//     the slow path. `fixed` mode takes a fast-path hit only when that is zero, as RFS moves a flow
//     to another CPU only once the old CPU's queue head has passed the flow's last packet
//     (rps_dev_flow.last_qtail): the count is the same guard kept per flow.
//   ReorderCounter: per flow, deliveries that came after a later-arrived packet's delivery.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "frame_parser.h"

namespace econsim::sim::timing {

// A VXLAN frame's inner flow as the fast path keys it: the inner 5-tuple and the VNI.
struct FlowKey {
	std::uint32_t saddr = 0, daddr = 0;
	std::uint16_t sport = 0, dport = 0;
	std::uint8_t proto = 0;
	std::uint32_t vni = 0;
	auto operator<=>(const FlowKey &) const = default;
};

// nullopt for a frame that is not VXLAN with an inner TCP or UDP header.
std::optional<FlowKey> flow_key(const ParsedFrame &f);

class SlowPathInFlight {
public:
	unsigned count(const FlowKey &flow) const
	{
		auto it = counts_.find(flow);
		return it == counts_.end() ? 0 : it->second;
	}
	void add(const FlowKey &flow) { counts_[flow]++; }
	void remove(const FlowKey &flow)
	{
		auto it = counts_.find(flow);
		if (it != counts_.end() && --it->second == 0)
			counts_.erase(it);
	}
	std::size_t flows() const { return counts_.size(); }

private:
	std::map<FlowKey, unsigned> counts_; // only flows with packets in flight
};

class ReorderCounter {
public:
	struct Flow {
		std::uint64_t delivered = 0;
		std::uint64_t out_of_order = 0;
		std::uint64_t latest = 0; // the latest arrival delivered so far
	};

	// A delivery of the seq-th packet to arrive (frame numbers count arrivals).
	void delivered(const std::string &flow, std::uint64_t seq)
	{
		Flow &f = flows_[flow];
		f.delivered++;
		if (seq < f.latest) {
			f.out_of_order++;
			total_++;
		} else {
			f.latest = seq;
		}
	}
	const std::map<std::string, Flow> &flows() const { return flows_; }
	std::uint64_t out_of_order() const { return total_; }

private:
	std::map<std::string, Flow> flows_;
	std::uint64_t total_ = 0;
};

} // namespace econsim::sim::timing
