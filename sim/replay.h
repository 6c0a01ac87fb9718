// `econ-sim replay` and `econ-sim trace`: a capture streamed through the host pipeline in time
// order with the scenario's events, verdicts written as they come, expectations and the vanilla
// model (--check) compared frame by frame, and a summary at the end.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "scenario.h"
#include "timing/timed_replay.h"

namespace econsim::sim {

// Exit codes of both commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitDisagreement = 1; // an expectation unmet, a --check mismatch, a trace unlike its golden
inline constexpr int kExitBadInput = 2;     // usage, scenario, capture or expectation error

struct ReplayOptions {
	std::string scenario;
	std::string capture;
	std::optional<FastpathMode> mode;
	std::optional<std::string> expect;
	std::optional<std::string> verdicts;
	bool check = false;
	bool progress = false; // a progress line on stderr (the CLI sets it on a TTY)
	unsigned listed = 10;  // disagreements listed in the summary
	std::optional<timing::TimingOptions> timing; // --timing (docs/timing.md)
};

int run_replay(const ReplayOptions &options, std::ostream &out, std::ostream &err);

struct TraceOptions {
	std::string scenario;
	std::string capture;
	std::optional<FastpathMode> mode;
	std::uint64_t pkt = 0;
	std::optional<std::string> golden; // compare with this file
	bool update = false;               // rewrite the golden file instead
};

int run_trace(const TraceOptions &options, std::ostream &out, std::ostream &err);

} // namespace econsim::sim
