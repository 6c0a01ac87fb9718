// What happened to one frame of the trace: one line of V.jsonl (scenario-format.md, "Verdicts").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/types.h"

namespace econsim::sim {

enum class Direction { rx, tx, other };   // addressed to this host, sent by it, neither
enum class Path { fast, slow };
// held: an IPv4 fragment the receiving stack keeps for reassembly (docs/scenario-extensions.md);
// the fragment that completes the datagram carries the whole datagram's verdict.
enum class VerdictKind { deliver, drop, transmit, ignore, held };

struct Verdict {
	std::uint64_t pkt = 0;             // frame number from 1
	std::int64_t ts_ns = 0;            // the frame's capture timestamp, exact (printed as seconds)
	Direction dir = Direction::other;
	std::optional<unsigned> cpu;
	std::optional<std::uint32_t> vni;
	std::optional<model::FiveTuple> flow; // what the socket lookup saw; written as model::to_string spells it
	std::optional<Path> path;
	VerdictKind verdict = VerdictKind::ignore;
	std::optional<std::string> sock;   // the socket delivered to
	std::optional<std::string> reason; // why dropped or ignored: a snake_case word
	std::optional<std::int64_t> latency_ns; // --timing only (docs/timing.md): arrival → socket, virtual time

	// Back to Verdict{}, member by member (a member added above is added here): assigning a fresh
	// one builds a temporary whose narrow stores the copy reads back with wide loads, a
	// store-forwarding stall on every frame.
	void reset()
	{
		pkt = 0;
		ts_ns = 0;
		dir = Direction::other;
		cpu.reset();
		vni.reset();
		flow.reset();
		path.reset();
		verdict = VerdictKind::ignore;
		sock.reset();
		reason.reset();
		latency_ns.reset();
	}
};

constexpr std::string_view to_string(Direction dir)
{
	switch (dir) {
	case Direction::rx: return "rx";
	case Direction::tx: return "tx";
	case Direction::other: return "other";
	}
	return "?";
}

constexpr std::string_view to_string(Path path)
{
	return path == Path::fast ? "fast" : "slow";
}

constexpr std::string_view to_string(VerdictKind kind)
{
	switch (kind) {
	case VerdictKind::deliver: return "deliver";
	case VerdictKind::drop: return "drop";
	case VerdictKind::transmit: return "transmit";
	case VerdictKind::ignore: return "ignore";
	case VerdictKind::held: return "held";
	}
	return "?";
}

constexpr std::optional<VerdictKind> parse_verdict_kind(std::string_view text)
{
	for (VerdictKind kind :
	     {VerdictKind::deliver, VerdictKind::drop, VerdictKind::transmit, VerdictKind::ignore, VerdictKind::held})
		if (to_string(kind) == text)
			return kind;
	return std::nullopt;
}

} // namespace econsim::sim
