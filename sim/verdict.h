// What happened to one frame of the trace: one line of V.jsonl (scenario-format.md, "Verdicts").
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "model/types.h"

namespace econsim::sim {

enum class Direction { rx, tx, other };   // addressed to this host, sent by it, neither
enum class Path { fast, slow };
// held: an IPv4 fragment the receiving stack keeps for reassembly (docs/scenario-extensions.md);
// the fragment that completes the datagram carries the whole datagram's verdict.
enum class VerdictKind { deliver, drop, transmit, ignore, held };

// A verdict's word (the socket delivered to, the reason): std::optional<std::string>'s interface
// where the verdict uses it, but reset keeps the string's buffer, so that frames whose verdicts
// name a socket or a reason longer than the string's inline capacity (15 bytes) allocate once per
// replay, not once per frame.
class VerdictText {
public:
	VerdictText() = default;
	VerdictText(std::nullopt_t) {}
	VerdictText &operator=(std::string_view text)
	{
		text_.assign(text);
		set_ = true;
		return *this;
	}
	VerdictText &operator=(const std::string &text) { return *this = std::string_view(text); }
	VerdictText &operator=(const char *text) { return *this = std::string_view(text); }
	VerdictText &operator=(const std::optional<std::string> &text)
	{
		if (text)
			return *this = std::string_view(*text);
		reset();
		return *this;
	}
	VerdictText &operator=(std::nullopt_t)
	{
		reset();
		return *this;
	}
	void reset()
	{
		text_.clear();
		set_ = false;
	}

	bool has_value() const { return set_; }
	explicit operator bool() const { return set_; }
	const std::string &operator*() const { return text_; }
	const std::string *operator->() const { return &text_; }
	std::string value_or(std::string_view otherwise) const { return std::string(set_ ? text_ : otherwise); }

	friend bool operator==(const VerdictText &a, const VerdictText &b)
	{
		return a.set_ == b.set_ && a.text_ == b.text_;
	}
	friend bool operator==(const VerdictText &a, std::string_view b) { return a.set_ && a.text_ == b; }
	friend bool operator==(const VerdictText &a, const char *b) { return a == std::string_view(b); }
	friend bool operator==(const VerdictText &a, const std::string &b) { return a == std::string_view(b); }
	friend bool operator==(const VerdictText &a, std::nullopt_t) { return !a.set_; }
	friend bool operator==(const VerdictText &a, const std::optional<std::string> &b)
	{
		return b ? a == std::string_view(*b) : !a.set_;
	}
	// For test failure messages.
	friend std::ostream &operator<<(std::ostream &out, const VerdictText &t)
	{
		return t.set_ ? out << '"' << t.text_ << '"' : out << "(none)";
	}

private:
	std::string text_; // empty when not set
	bool set_ = false;
};

struct Verdict {
	std::uint64_t pkt = 0;             // frame number from 1
	std::int64_t ts_ns = 0;            // the frame's capture timestamp, exact (printed as seconds)
	Direction dir = Direction::other;
	std::optional<unsigned> cpu;
	std::optional<std::uint32_t> vni;
	std::optional<model::FiveTuple> flow; // what the socket lookup saw; written as model::to_string spells it
	std::optional<Path> path;
	VerdictKind verdict = VerdictKind::ignore;
	VerdictText sock;   // the socket delivered to
	VerdictText reason; // why dropped or ignored: a snake_case word
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
