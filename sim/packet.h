// The packet context: what a frame carries through the stages, as an sk_buff carries its
// headers, device, namespace, CPU and hash through the kernel. One per frame, reused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture_reader.h"
#include "frame_parser.h"
#include "model/tcp_receive.h"
#include "model/types.h"
#include "verdict.h"

namespace econsim::sim {

// "0x1a2b3c4d", as hashes are shown in traces.
inline std::string hex32(std::uint32_t value)
{
	static const char digits[] = "0123456789abcdef";
	std::string text = "0x00000000";
	for (int i = 9; i >= 2; i--, value >>= 4)
		text[i] = digits[value & 0xf];
	return text;
}

// One line of `econ-sim trace`: a stage, what it decided, and why.
struct TraceStep {
	std::string stage;
	std::string decision;
	std::string why;
};

struct Packet {
	std::uint64_t number = 0;
	std::int64_t ts_ns = 0;
	ParsedFrame parsed;

	Direction dir = Direction::other;
	unsigned cpu = 0;
	std::uint32_t rss_hash = 0;  // skb->hash as the NIC set it; 0 when rss is none
	std::uint32_t fastpath_ticket = 0; // fixed mode: taken at the NIC lookup, given to the insert
	bool fastpath_ticket_valid = false; // the frame was looked up, so it may be cached

	// Filled in as the stages get there.
	std::string vxlan_device;   // the VXLAN device that took the VNI
	std::string ns;             // the namespace the packet is in now
	std::optional<model::FiveTuple> flow; // what the socket lookup sees
	model::MacAddress inner_src_mac;
	model::MacAddress inner_dst_mac;
	std::string socket;         // the socket that took it, when one did
	std::optional<model::TcpEvent> tcp_event; // what tcp_v4_rcv's state machine did with it

	Verdict verdict;

	bool tracing = false;
	std::vector<TraceStep> steps;

	void step(std::string_view stage, std::string decision, std::string why = {})
	{
		if (tracing)
			steps.push_back({std::string(stage), std::move(decision), std::move(why)});
	}
	void drop(std::string_view stage, std::string reason, std::string why = {})
	{
		verdict.verdict = VerdictKind::drop;
		step(stage, "drop: " + reason, std::move(why));
		verdict.reason = std::move(reason);
	}
	void ignore(std::string_view stage, std::string reason, std::string why = {})
	{
		verdict.verdict = VerdictKind::ignore;
		step(stage, "ignore: " + reason, std::move(why));
		verdict.reason = std::move(reason);
	}
};

} // namespace econsim::sim
