// `econ-sim replay --timing`: the capture's frames arrive at the NIC in virtual time (the trace's
// timestamps, optionally sped up, or a fixed rate), wait in the per-CPU queues of softnet.h, and
// are run through the pipeline's segments when a simulated CPU's net_rx_action gets to them, each
// segment costing the cost table's nanoseconds. Scenario events apply at their (scaled) time, so a
// fast-path insert happens when the slow-path packet reaches its socket, after the queues.
// Verdicts come out in trace order, each delivery with its latency (arrival → socket); at the end,
// CPU per stage, latency percentiles, queue drops and out-of-order deliveries per flow.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "capture_reader.h"
#include "host_pipeline.h"
#include "scenario.h"
#include "timing/cost_table.h"
#include "timing/flow_order.h"
#include "timing/latency_histogram.h"
#include "timing/softnet.h"

namespace econsim::sim::timing {

struct TimingOptions {
	double speed = 1.0;                // --speed 10x: the trace's gaps divided by 10
	std::optional<double> rate_pps;    // --rate PPS: frame n arrives (n-1)/PPS s after the first
	std::optional<std::string> costs;  // --costs FILE, else the measured table built in
	SoftnetConfig softnet;
};

// "10x", "10", "0.5x": the factor; nullopt unless a positive number.
std::optional<double> parse_speed(std::string_view text);
// "200000", "2e5": packets per second; nullopt unless a positive number.
std::optional<double> parse_rate(std::string_view text);

class TimedReplay : private SegmentRunner, private StageObserver {
public:
	// Called once per frame, in trace order (the frame's bytes stay valid for the call).
	using Sink = std::function<void(const CaptureFrame &, const Packet &)>;

	// Throws InputError when the cost table given cannot be read.
	TimedReplay(HostPipeline &pipeline, const Scenario &scenario, const TimingOptions &options);
	~TimedReplay() override;

	// Streams the capture through the simulated host until every frame has ended. A CaptureError
	// is rethrown once the frames before it have ended and been given to the sink.
	void run(CaptureReader &reader, const Sink &sink);
	void summarize(std::ostream &out) const;

	// What the summary prints, for tests.
	std::uint64_t out_of_order() const { return reorder_.out_of_order(); }
	const ReorderCounter &reorder() const { return reorder_; }
	const LatencyHistogram &latency() const { return latency_all_; }
	std::uint64_t queue_drops(NapiKind kind) const;
	std::uint64_t hits_behind_backlog() const { return hits_behind_backlog_; }
	std::uint64_t overtaking_hits() const { return overtaking_hits_; }
	std::int64_t cpu_ns() const;
	std::uint64_t received() const { return received_; }
	const CostTable &costs() const { return costs_; }

private:
	struct PathCost {
		std::uint64_t packets = 0;
		std::int64_t cpu_ns = 0;
		LatencyHistogram latency;
	};

	// SegmentRunner
	Segment nic_poll(TimedPacket &p, std::int64_t now_ns) override;
	Segment gro_cell_poll(TimedPacket &p, std::int64_t now_ns) override;
	Segment backlog_poll(TimedPacket &p, std::int64_t now_ns) override;
	void queue_drop(TimedPacket &p, NapiKind where, std::int64_t now_ns) override;
	// StageObserver
	void entered(Stage stage, const Packet &pkt) override;

	void charge(const char *row, std::int64_t ns);
	void charge_outer_pass(const Packet &pkt);
	void begin_segment(TimedPacket &p, std::int64_t now_ns);
	Segment end_segment(TimedPacket &p, bool goes_on, Next next, std::int64_t now_ns);
	void finish(TimedPacket &p, std::int64_t done_ns);
	void release();
	void arrive(const CaptureFrame &frame);
	std::int64_t arrival_time(const CaptureFrame &frame) const;
	std::int64_t to_trace_time(std::int64_t virtual_ns) const;
	std::int64_t next_event_time() const;
	void apply_events_until(std::int64_t trace_ns);
	TimedPacket &allocate();
	void recycle(TimedPacket &p);
	Softnet *earliest_busy_cpu();

	HostPipeline &pipeline_;
	const Scenario &scenario_;
	TimingOptions options_;
	CostTable costs_;
	FastpathMode mode_;

	std::vector<std::unique_ptr<TimedPacket>> all_; // every node made; the queues only link them
	std::vector<TimedPacket *> free_;
	std::vector<std::unique_ptr<Softnet>> cpus_;
	std::map<std::uint64_t, TimedPacket *> ended_; // frame number → node, until its turn
	std::uint64_t next_release_ = 1;
	const Sink *sink_ = nullptr;

	std::int64_t t0_ = 0; // the first frame's timestamp: virtual and trace time coincide there
	std::uint64_t first_number_ = 1;
	std::size_t next_event_ = 0;

	std::int64_t segment_cost_ = 0;
	std::map<std::string, std::int64_t> cpu_by_row_;
	std::uint64_t received_ = 0;
	PathCost host_, slow_, fast_, dropped_;
	LatencyHistogram latency_all_;
	std::int64_t first_arrival_ = 0, last_end_ = 0;

	SlowPathInFlight in_flight_;
	ReorderCounter reorder_;
	std::uint64_t hits_behind_backlog_ = 0;
	std::uint64_t overtaking_hits_ = 0;
};

} // namespace econsim::sim::timing
