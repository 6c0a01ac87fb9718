// The timed replay end to end, on the committed traces: what --timing must not change (where each
// frame ends, when nothing queues for long), what it adds (latency as the model computes it, queue
// drops), and B18: reordering at slow→fast transitions in `econ` mode, none in `fixed` mode, whose
// hits wait in the VXLAN device's gro_cell (and behind their flow in the backlog), as the series'.
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "capture_reader.h"
#include "host_pipeline.h"
#include "replay.h"
#include "scenario.h"
#include "timing/timed_replay.h"

namespace econsim::sim::timing {
namespace {

const std::string kTraces = std::string(ECONSIM_SOURCE_DIR) + "/traces/";

struct TimedRun {
	std::vector<Verdict> verdicts;
	std::uint64_t out_of_order = 0;
	std::uint64_t behind_backlog = 0;
	std::uint64_t overtaking = 0;
	std::uint64_t ring_drops = 0;
	std::string summary;
};

TimedRun timed(const std::string &trace, FastpathMode mode, TimingOptions options = {})
{
	Scenario scenario = load_scenario(kTraces + trace + "/scenario.yaml");
	HostPipeline pipeline(scenario, mode);
	TimedReplay replay(pipeline, scenario, options);
	CaptureReader reader(kTraces + trace + "/trace.pcap");
	TimedRun run;
	replay.run(reader, [&](const CaptureFrame &, const Packet &p) { run.verdicts.push_back(p.verdict); });
	pipeline.finish();
	run.out_of_order = replay.out_of_order();
	run.behind_backlog = replay.hits_behind_backlog();
	run.overtaking = replay.overtaking_hits();
	run.ring_drops = replay.queue_drops(NapiKind::nic);
	std::ostringstream s;
	replay.summarize(s);
	run.summary = s.str();
	return run;
}

std::vector<Verdict> untimed(const std::string &trace, FastpathMode mode)
{
	Scenario scenario = load_scenario(kTraces + trace + "/scenario.yaml");
	HostPipeline pipeline(scenario, mode);
	CaptureReader reader(kTraces + trace + "/trace.pcap");
	std::vector<Verdict> verdicts;
	while (auto frame = reader.next())
		verdicts.push_back(pipeline.process(*frame).verdict);
	pipeline.finish();
	return verdicts;
}

void expect_same_ends(const std::vector<Verdict> &timed_, const std::vector<Verdict> &plain, const std::string &what)
{
	ASSERT_EQ(timed_.size(), plain.size()) << what;
	for (std::size_t i = 0; i < plain.size(); i++) {
		const Verdict &a = timed_[i], &b = plain[i];
		ASSERT_EQ(a.pkt, b.pkt) << what << ": verdicts come out in trace order";
		EXPECT_EQ(a.verdict, b.verdict) << what << " pkt " << a.pkt;
		EXPECT_EQ(a.sock, b.sock) << what << " pkt " << a.pkt;
		EXPECT_EQ(a.reason, b.reason) << what << " pkt " << a.pkt;
		EXPECT_EQ(a.path, b.path) << what << " pkt " << a.pkt;
		EXPECT_EQ(a.latency_ns.has_value(), a.verdict == VerdictKind::deliver) << what << " pkt " << a.pkt;
		EXPECT_FALSE(b.latency_ns) << "no latency without --timing";
	}
}

// A cost table with round numbers, so latencies can be stated exactly.
std::string write_costs()
{
	std::string path = (std::filesystem::temp_directory_path() / "econsim-timing-test-costs.yaml").string();
	std::ofstream(path)
		<< "stages:\n  nic_rx: 1000\n  ip_rcv: 200\n  ip_rcv_early: 120\n  vxlan_rcv: 30\n  gro_cells: 400\n"
		   "  br_handle_frame: 50\n  br_netfilter: 6\n  veth_xmit: 7\n  backlog: 300\n"
		   "  ip_rcv_container: 20\n  deliver: 9\n  fastpath_hit: 100\nper_byte:\n  rx: 0\n  overlay: 0\n";
	return path;
}

constexpr std::int64_t kSlowPath = 1000 + 200 + 30 + 400 + 50 + 6 + 7 + 300 + 20 + 9;
// In fixed mode the series' early receive shortens the outer IP/UDP pass of every VXLAN datagram,
// slow or fast: ip_rcv_early in place of ip_rcv.
constexpr std::int64_t kFixedSlowPath = kSlowPath - 200 + 120;
// ECON's hit: from the NIC's poll to the socket. The series' (fixed): the outer IP/UDP pass (the
// early receive's) and vxlan_rcv in the NIC's poll, the hit's own work and the delivery in the
// gro_cell's.
constexpr std::int64_t kEconFastPath = 1000 + 100 + 9;
constexpr std::int64_t kFixedFastPath = 1000 + 120 + 30 + 100 + 9;

TEST(TimedReplay, RecordedTracesEndAsWithoutTiming)
{
	// Frames 20 ms apart and events 10 ms from every frame: queues never hold a packet past an event.
	for (const char *trace : {"udp-reopen", "udp-connected", "two-vni", "tcp-listener", "udp-churn", "docker-netfilter"})
		for (FastpathMode mode : {FastpathMode::off, FastpathMode::econ, FastpathMode::fixed})
			expect_same_ends(timed(trace, mode).verdicts, untimed(trace, mode),
					 std::string(trace) + " " + std::string(to_string(mode)));
}

TEST(TimedReplay, EventsKeepTheirPlaceAmongFramesWhenSpedUp)
{
	TimingOptions options;
	options.speed = 1000; // 10 ms margins become 10 µs, still more than a slow path takes
	for (FastpathMode mode : {FastpathMode::econ, FastpathMode::fixed})
		expect_same_ends(timed("udp-reopen", mode, options).verdicts, untimed("udp-reopen", mode),
				 std::string("udp-reopen at 1000x ") + std::string(to_string(mode)));
}

TEST(TimedReplay, AnUnqueuedPacketsLatencyIsTheSumOfItsStages)
{
	TimingOptions options;
	options.costs = write_costs();
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::econ, FastpathMode::fixed}) {
		TimedRun run = timed("udp-reopen", mode, options);
		const std::int64_t fast_path = mode == FastpathMode::econ ? kEconFastPath : kFixedFastPath;
		const std::int64_t slow_path = mode == FastpathMode::fixed ? kFixedSlowPath : kSlowPath;
		std::uint64_t slow = 0, fast = 0;
		for (const Verdict &v : run.verdicts) {
			if (v.verdict != VerdictKind::deliver)
				continue;
			ASSERT_TRUE(v.latency_ns && v.path);
			EXPECT_EQ(*v.latency_ns, *v.path == Path::fast ? fast_path : slow_path)
				<< to_string(mode) << " pkt " << v.pkt;
			(*v.path == Path::fast ? fast : slow)++;
		}
		EXPECT_GT(slow, 0u);
		EXPECT_EQ(fast > 0, mode != FastpathMode::off);
	}
}

// On a node with netfilter the series' early receive runs the underlay's hooks and looks the route
// up: the fixed mode's outer pass is charged whole (ip_rcv), fast or slow; the hits still run.
TEST(TimedReplay, ANetfilterNodesOuterPassIsChargedWhole)
{
	TimingOptions options;
	options.costs = write_costs();
	TimedRun run = timed("docker-netfilter", FastpathMode::fixed, options);
	// Two clients send at the same instants here, so some packets queue behind another: the
	// fewest nanoseconds a path took is its unqueued sum.
	std::int64_t fastest_hit = INT64_MAX, fastest_slow = INT64_MAX;
	for (const Verdict &v : run.verdicts) {
		if (v.verdict != VerdictKind::deliver)
			continue;
		ASSERT_TRUE(v.latency_ns && v.path);
		std::int64_t &fastest = *v.path == Path::fast ? fastest_hit : fastest_slow;
		fastest = std::min(fastest, *v.latency_ns);
	}
	EXPECT_EQ(fastest_hit, kFixedFastPath - 120 + 200);
	EXPECT_EQ(fastest_slow, kSlowPath);
}

TEST(TimedReplay, EconReordersAtSlowToFastTransitions)
{
	TimedRun econ = timed("reorder", FastpathMode::econ);
	EXPECT_GT(econ.out_of_order, 0u) << econ.summary;
	EXPECT_GT(econ.overtaking, 0u);
	for (const Verdict &v : econ.verdicts)
		ASSERT_EQ(v.sock, std::optional<std::string>("s1")) << "reordered, not misdelivered: pkt " << v.pkt;
}

TEST(TimedReplay, FixedQueuesHitsBehindTheirFlowsSlowPackets)
{
	TimedRun fixed = timed("reorder", FastpathMode::fixed);
	EXPECT_EQ(fixed.out_of_order, 0u) << fixed.summary;
	EXPECT_EQ(fixed.overtaking, 0u);
	// At 5 Mpps with a backlog that takes 32 packets a poll (net.core.dev_weight 32, half the
	// gro_cell's weight), the backlog falls behind the cell, and a flow's first hits pass the cell
	// while its last misses still wait in the backlog: they wait behind them there, and the hits
	// after them behind those (econ's hits overtake them). With equal weights the backlog drains
	// before the next hits reach the cell, and the case does not arise in this trace.
	TimingOptions busy;
	busy.rate_pps = 5'000'000;
	busy.softnet.dev_weight = 32;
	TimedRun loaded = timed("reorder", FastpathMode::fixed, busy);
	EXPECT_EQ(loaded.out_of_order, 0u) << loaded.summary;
	EXPECT_GT(loaded.behind_backlog, 0u) << loaded.summary;
	EXPECT_GT(timed("reorder", FastpathMode::econ, busy).out_of_order, 0u);
	std::uint64_t fast = 0;
	for (const Verdict &v : fixed.verdicts) {
		ASSERT_EQ(v.sock, std::optional<std::string>("s1")) << "pkt " << v.pkt;
		fast += v.path == Path::fast;
	}
	EXPECT_GT(fast, 0u) << "hits from the first one the map answers";
	EXPECT_EQ(timed("reorder", FastpathMode::off).out_of_order, 0u) << "one path, FIFO queues: in order";
}

TEST(TimedReplay, WithoutTimingTheReorderTraceIsInOrderAndMeetsItsExpectations)
{
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::econ, FastpathMode::fixed}) {
		ReplayOptions o;
		o.scenario = kTraces + "reorder/scenario.yaml";
		o.capture = kTraces + "reorder/trace.pcap";
		o.expect = kTraces + "reorder/expect.jsonl";
		o.mode = mode;
		std::ostringstream out, err;
		EXPECT_EQ(run_replay(o, out, err), kExitOk) << out.str() << err.str();
	}
}

TEST(TimedReplay, AFullRingDropsAndSaysSo)
{
	TimingOptions options;
	options.softnet.nic_ring = 16;
	TimedRun run = timed("reorder", FastpathMode::off, options);
	EXPECT_GT(run.ring_drops, 0u);
	std::uint64_t dropped = 0;
	for (const Verdict &v : run.verdicts)
		if (v.verdict == VerdictKind::drop) {
			EXPECT_EQ(v.reason, std::optional<std::string>("rx_ring_full"));
			EXPECT_FALSE(v.latency_ns);
			dropped++;
		}
	EXPECT_EQ(dropped, run.ring_drops);
}

TEST(TimedReplay, AFixedRateSetsTheArrivals)
{
	TimingOptions slow, fast;
	slow.rate_pps = 10'000; // one frame every 100 µs: nothing queues
	fast.rate_pps = 5'000'000;
	TimedRun calm = timed("reorder", FastpathMode::econ, slow);
	TimedRun busy = timed("reorder", FastpathMode::econ, fast);
	EXPECT_EQ(calm.out_of_order, 0u) << calm.summary;
	EXPECT_GT(busy.out_of_order, 0u) << busy.summary;
}

TEST(TimedReplay, SpeedAndRateParse)
{
	EXPECT_EQ(parse_speed("10x"), 10.0);
	EXPECT_EQ(parse_speed("0.5"), 0.5);
	EXPECT_FALSE(parse_speed("x"));
	EXPECT_FALSE(parse_speed("-2x"));
	EXPECT_FALSE(parse_speed("fast"));
	EXPECT_EQ(parse_rate("2e5"), 200000.0);
	EXPECT_FALSE(parse_rate("0"));
}

} // namespace
} // namespace econsim::sim::timing
