// The packet context: what a frame carries through the stages, as an sk_buff carries its
// headers, device, namespace, CPU and hash through the kernel. One per frame, reused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "capture_reader.h"
#include "fpmap.h"
#include "frame_parser.h"
#include "model/route.h"
#include "model/tcp_receive.h"
#include "model/types.h"
#include "scenario.h"
#include "stage.h"
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
	Stage stage;
	std::string decision;
	std::string why;
};

// An explanation is text, or a callable that formats it: the callable runs only when a trace is
// being taken, so a replay formats nothing it would throw away.
template <class Text>
std::string explanation(Text &&text)
{
	if constexpr (std::is_invocable_v<Text>)
		return std::string(text());
	else
		return std::string(std::forward<Text>(text));
}

struct Packet {
	std::uint64_t number = 0;
	std::int64_t ts_ns = 0;
	ParsedFrame parsed;

	Direction dir = Direction::other;
	unsigned cpu = 0;
	std::uint32_t rss_hash = 0;  // skb->hash as the NIC set it; 0 when rss is none
	fpmap_ticket fastpath_ticket{}; // fixed mode: taken at the NIC lookup, renewed past vxlan_snoop, given to the insert
	bool fastpath_ticket_valid = false; // the frame was looked up, so it may be cached

	// Filled in as the stages get there.
	fpmap_dev vxlan{};          // the VXLAN device that took the VNI (OverlayHost's id; 0: none yet)
	std::uint32_t netns = kHostNetnsId; // the namespace the packet is in now (OverlayHost's id)
	std::optional<model::FiveTuple> flow; // what the socket lookup sees
	model::MacAddress inner_src_mac;
	model::MacAddress inner_dst_mac;
	// The socket that took it or sent it, as its cookie (OverlayHost's; 0: none): a hit brings it
	// from the cache, a lookup from the model's answer. Its name is asked for at the edges only.
	std::uint64_t socket = 0;
	std::optional<model::TcpEvent> tcp_event; // what tcp_v4_rcv's state machine did with it
	// The frame completed a fragmented datagram: the first fragment's transport header, which
	// the whole datagram starts with (this frame may carry none).
	std::optional<TransportHeader> reassembled_l4;
	// The frame completed an outer (underlay) datagram: its frame rebuilt from the reassembled
	// bytes, which `parsed` now indexes (ip_defrag_host), and what the NIC saw was a fragment
	// (its RSS hash an L3 one).
	std::vector<std::uint8_t> reassembled_frame;
	bool outer_reassembled = false;
	// Routed overlays: the route ip_route_input chose (null: to the host itself), its next hop,
	// and the next hop's MAC neigh_output resolved.
	const model::Route *route = nullptr;
	model::Ipv4Address next_hop;
	model::MacAddress next_hop_mac;
	// The bridge flooded the frame, its FDB not knowing the destination MAC: the bridge of the
	// VXLAN port (br_handle_frame), or the one a routed frame was sent into (br_dev_xmit). The
	// path then says nothing of where the flow's next frames go.
	bool bridge_flooded = false;

	Verdict verdict;

	bool tracing = false;
	std::vector<TraceStep> steps;

	// Back to a packet as `Packet{}` makes it (every member above, `parsed` left to the parser,
	// which writes all of it), keeping the buffers the strings and vectors grew: a frame builds no
	// kilobyte-sized temporary to move from. A member added above is added here too.
	void reset()
	{
		number = 0;
		ts_ns = 0;
		dir = Direction::other;
		cpu = 0;
		rss_hash = 0;
		fastpath_ticket = {};
		fastpath_ticket_valid = false;
		vxlan = {};
		netns = kHostNetnsId;
		flow.reset();
		inner_src_mac = {};
		inner_dst_mac = {};
		socket = 0;
		tcp_event.reset();
		reassembled_l4.reset();
		reassembled_frame.clear();
		outer_reassembled = false;
		route = nullptr;
		next_hop = {};
		next_hop_mac = {};
		bridge_flooded = false;
		verdict.reset();
		tracing = false;
		steps.clear();
	}

	// A trace line; callers format its text only when `tracing` (see explanation()).
	template <class Decision, class Why = std::string_view>
	void step(Stage stage, Decision &&decision, Why &&why = {})
	{
		if (tracing)
			steps.push_back({stage, explanation(std::forward<Decision>(decision)), explanation(std::forward<Why>(why))});
	}
	template <class Why = std::string_view>
	void drop(Stage stage, std::string_view reason, Why &&why = {})
	{
		end(VerdictKind::drop, "drop: ", stage, reason, std::forward<Why>(why));
	}
	template <class Why = std::string_view>
	void ignore(Stage stage, std::string_view reason, Why &&why = {})
	{
		end(VerdictKind::ignore, "ignore: ", stage, reason, std::forward<Why>(why));
	}
	// On pkt.socket, whose name the host gives: the verdict, and the trace's last line. The
	// verdict names the socket because verdicts are compared across modes and with expectations by
	// name (two modes may number an accepted child differently).
	void deliver(const std::string &socket_name)
	{
		verdict.verdict = VerdictKind::deliver;
		verdict.sock = socket_name;
		step(Stage::deliver, [&] { return "to " + socket_name; });
	}
	// Kept for reassembly: the verdict is the datagram's, on the fragment that completes it.
	template <class Why = std::string_view>
	void hold(Stage stage, Why &&why = {})
	{
		verdict.verdict = VerdictKind::held;
		verdict.reason.reset();
		if (tracing)
			steps.push_back({stage, "held", explanation(std::forward<Why>(why))});
	}

private:
	template <class Why>
	void end(VerdictKind kind, std::string_view prefix, Stage stage, std::string_view reason, Why &&why)
	{
		verdict.verdict = kind;
		verdict.reason = reason;
		if (tracing)
			steps.push_back({stage, std::string(prefix) + std::string(reason), explanation(std::forward<Why>(why))});
	}
};

} // namespace econsim::sim
