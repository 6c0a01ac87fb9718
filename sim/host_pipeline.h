// One receiving host in one fast-path mode: the stages in kernel order, the scenario's timeline
// applied between frames, and a count of where every frame ended.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>

#include "capture_reader.h"
#include "fastpath.h"
#include "overlay_host.h"
#include "packet.h"
#include "scenario.h"

namespace econsim::sim {

struct StageContext;

struct StageCount {
	std::uint64_t entered = 0;
	std::map<std::string, std::uint64_t> ended; // verdict or drop reason of the frames that ended here
};

class HostPipeline {
public:
	HostPipeline(const Scenario &scenario, FastpathMode mode);

	// Applies the events up to the frame's time, then runs it through the stages.
	// Throws ScenarioError for an event the kernel would refuse.
	const Packet &process(const CaptureFrame &frame, bool trace = false);
	// The events after the last frame.
	void finish();

	FastpathMode mode() const { return mode_; }
	// Read access for tests: the fast path (and its map) and the host's ids and sockets.
	const FastPath &fastpath() const { return *fastpath_; }
	const OverlayHost &host() const { return host_; }
	const std::map<std::string, StageCount> &stage_counts() const { return stage_counts_; }
	void summarize_fastpath(std::ostream &out) const { fastpath_->summarize(out); }
	void summarize_stages(std::ostream &out) const;

private:
	using Stage = bool (*)(StageContext &, Packet &);
	bool run(const char *name, Stage stage);
	void receive();
	void count_end(const char *name);

	const Scenario &scenario_;
	FastpathMode mode_;
	ParserConfig parser_config_;
	std::unique_ptr<FastPath> fastpath_;
	OverlayHost host_;
	Packet pkt_;
	std::map<std::string, StageCount> stage_counts_;
};

} // namespace econsim::sim
