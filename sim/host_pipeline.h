// One receiving host in one fast-path mode: the stages in kernel order, the scenario's timeline
// applied between frames, and a count of where every frame ended.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "capture_reader.h"
#include "fastpath.h"
#include "overlay_host.h"
#include "packet.h"
#include "scenario.h"

namespace econsim::sim {

struct StageContext;

// Told of every stage a packet enters (a timed replay charges each stage its CPU cost).
class StageObserver {
public:
	virtual ~StageObserver() = default;
	virtual void entered(Stage stage, const Packet &pkt) = 0;
};

struct StageCount {
	std::uint64_t entered = 0;
	// The verdict, or the drop or ignore reason, of the frames that ended here. Few keys, found
	// without building a string.
	std::map<std::string, std::uint64_t, std::less<>> ended;
};
using StageCounts = std::array<StageCount, kStageCount>; // indexed by Stage

class HostPipeline {
public:
	HostPipeline(const Scenario &scenario, FastpathMode mode);

	// Applies the events up to the frame's time, then runs it through the stages.
	// Throws ScenarioError for an event the kernel would refuse.
	const Packet &process(const CaptureFrame &frame, bool trace = false);
	// The events after the last frame.
	void finish();

	// The receive path in the segments the kernel's queues separate, for a timed replay that runs
	// each when a simulated CPU gets to it (sim/timing/). process() is these back to back.
	void apply_events_until(std::int64_t now_ns);
	// Parses the frame into pkt and runs nic_rx (a transmitted frame is checked too). True: a
	// received frame, for pkt.cpu's NIC queue.
	bool arrive(const CaptureFrame &frame, Packet &pkt, bool trace = false);
	// The NIC's NAPI poll: the fast path, or ip_rcv, udp_rcv, vxlan_rcv up to gro_cells_receive.
	// True: on to the VXLAN device's gro_cells queue.
	bool nic_segment(Packet &pkt);
	void deliver_from_cache(StageContext &ctx, Packet &pkt);
	// gro_cell_poll: br_handle_frame, veth_xmit up to netif_rx; on a routed VXLAN device the host's
	// routing instead (routed_segment). True: on to the per-CPU backlog.
	bool gro_cell_segment(Packet &pkt);
	// process_backlog: ip_rcv_container, ip_defrag (an inner fragment), socket_lookup, deliver.
	void backlog_segment(Packet &pkt);
	// After a packet's last segment: the verdict's flow.
	static void complete_verdict(Packet &pkt);
	void observe_stages(StageObserver *observer) { observer_ = observer; }

	FastpathMode mode() const { return mode_; }
	// Read access for tests: the fast path (and its map) and the host's ids and sockets.
	const FastPath &fastpath() const { return *fastpath_; }
	const OverlayHost &host() const { return host_; }
	const StageCounts &stage_counts() const { return stage_counts_; }
	const StageCount &stage_count(Stage stage) const { return stage_counts_[static_cast<std::size_t>(stage)]; }
	void summarize_fastpath(std::ostream &out) const { fastpath_->summarize(out); }
	void summarize_stages(std::ostream &out) const;
	// The reassembly queues' counts, when any fragment came (nothing otherwise).
	void summarize_defrag(std::ostream &out) const;
	// The host's conntrack and FORWARD chain (host.netfilter), where the scenario has them.
	void summarize_netfilter(std::ostream &out) const;

private:
	using StageFunction = bool (*)(StageContext &, Packet &);
	void enter(Stage stage, const Packet &pkt);
	bool run(Stage stage, StageFunction function, Packet &pkt);
	void count_end(Stage stage, const Packet &pkt);
	bool routed_segment(Packet &pkt); // host_pipeline_routed.cpp

	FastpathMode mode_;
	ParserConfig parser_config_;
	std::unique_ptr<FastPath> fastpath_;
	OverlayHost host_;
	Packet pkt_;
	StageCounts stage_counts_{};
	// Per stage, the count of the last reasonless end (count_end).
	struct LastEnd {
		const char *verdict_name = nullptr;
		std::uint64_t *count = nullptr;
	};
	std::array<LastEnd, kStageCount> last_end_{};
	StageObserver *observer_ = nullptr;
};

} // namespace econsim::sim
