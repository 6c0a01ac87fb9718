// A packet context while it waits in the simulated kernel's queues: the Packet the stages work on,
// the frame's own copy of its bytes (the capture reader's buffer is reused by the next frame), and
// its times. Linked into one queue at a time, as an sk_buff is into one sk_buff_head.
#pragma once

#include <boost/intrusive/list.hpp>

#include <cstdint>
#include <vector>

#include "capture_reader.h"
#include "packet.h"
#include "timing/flow_order.h"

namespace econsim::sim::timing {

struct TimedPacket : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>> {
	Packet pkt;
	std::vector<std::uint8_t> bytes; // frame.bytes points here
	CaptureFrame frame;
	std::int64_t arrival_ns = 0; // virtual time it reached the NIC
	std::int64_t done_ns = 0;    // virtual time it ended (on its socket, dropped, or checked)
	std::int64_t cpu_ns = 0;     // CPU time its segments cost
	std::optional<FlowKey> flow; // a VXLAN frame's inner flow
	bool received = false;       // reached a NIC queue (a received frame, not dropped by the ring)
	bool on_slow_path = false;   // counted in its flow's packets in flight (a miss, or a hit in the backlog)
	bool hit_queued = false;     // fixed: a hit decided in the NIC's poll, delivered by a later one
	bool done = false;
};

using PacketList = boost::intrusive::list<TimedPacket, boost::intrusive::constant_time_size<true>>;

} // namespace econsim::sim::timing
