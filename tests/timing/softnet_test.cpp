// The queueing semantics of one simulated CPU (sim/timing/softnet.h), on hand-built cases: a runner
// that records what was polled when, and sends each packet where the test says, at a cost the test
// says. Times are virtual: every number here is computed by the model, not measured.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "timing/softnet.h"

namespace econsim::sim::timing {
namespace {

struct Polled {
	NapiKind kind;
	std::uint64_t id;
	std::int64_t at;
};

// Packets are identified by pkt.number. route(kind, id) says where a packet goes after a poll of kind.
class Recorder : public SegmentRunner {
public:
	std::function<Next(NapiKind, std::uint64_t)> route = [](NapiKind, std::uint64_t) { return Next::done; };
	std::int64_t cost = 100;
	std::vector<Polled> polled;
	std::vector<std::uint64_t> ended;   // in the order they ended
	std::vector<std::uint64_t> dropped; // by a full queue

	Segment nic_poll(TimedPacket &p, std::int64_t now) override { return poll(NapiKind::nic, p, now); }
	Segment gro_cell_poll(TimedPacket &p, std::int64_t now) override { return poll(NapiKind::gro_cell, p, now); }
	Segment backlog_poll(TimedPacket &p, std::int64_t now) override { return poll(NapiKind::backlog, p, now); }
	void queue_drop(TimedPacket &p, NapiKind, std::int64_t) override { dropped.push_back(p.pkt.number); }

	std::vector<NapiKind> kinds() const
	{
		std::vector<NapiKind> k;
		for (const Polled &p : polled)
			k.push_back(p.kind);
		return k;
	}

private:
	Segment poll(NapiKind kind, TimedPacket &p, std::int64_t now)
	{
		polled.push_back({kind, p.pkt.number, now});
		Next next = route(kind, p.pkt.number);
		if (next == Next::done)
			ended.push_back(p.pkt.number);
		return {next, cost};
	}
};

class SoftnetTest : public ::testing::Test {
protected:
	TimedPacket &packet(std::uint64_t id)
	{
		packets_.push_back(std::make_unique<TimedPacket>());
		packets_.back()->pkt.number = id;
		return *packets_.back();
	}
	void run(Softnet &cpu)
	{
		for (int guard = 0; cpu.busy() && guard < 1'000'000; guard++)
			cpu.step();
		ASSERT_FALSE(cpu.busy());
	}

	// Declared before the CPUs of each test, so they outlive the queues that link them.
	std::deque<std::unique_ptr<TimedPacket>> packets_;
	Recorder runner_;
};

TEST_F(SoftnetTest, APollTakesAtMostTheWeightAndAFullPollIsRepolled)
{
	Softnet cpu(SoftnetConfig{}, runner_);
	for (std::uint64_t id = 1; id <= 150; id++)
		ASSERT_TRUE(cpu.nic_receive(packet(id), 0));
	run(cpu);
	ASSERT_EQ(runner_.ended.size(), 150u);
	// 64 + 64 + 22: the NIC's NAPI used its whole weight twice, so it stayed scheduled (repoll),
	// and each full poll ended a net_rx_action (the list ran dry with a NAPI to repoll).
	EXPECT_EQ(cpu.stats().polls, 3u);
	EXPECT_EQ(cpu.stats().rounds, 3u);
	EXPECT_EQ(cpu.stats().time_squeeze, 0u);
	for (std::uint64_t i = 0; i < 150; i++)
		EXPECT_EQ(runner_.ended[i], i + 1) << "the RX ring is FIFO";
	EXPECT_EQ(runner_.polled.back().at, 149 * 100) << "one CPU, 100 ns per packet, back to back";
	EXPECT_EQ(cpu.now(), 150 * 100);
}

TEST_F(SoftnetTest, EachStageHasItsOwnFifoAndNapisTakeTurnsByWeight)
{
	// Every packet goes NIC → gro_cells → backlog, as a VXLAN packet on the slow path does.
	runner_.route = [](NapiKind kind, std::uint64_t) {
		return kind == NapiKind::nic        ? Next::gro_cells
		       : kind == NapiKind::gro_cell ? Next::backlog
						    : Next::done;
	};
	Softnet cpu(SoftnetConfig{}, runner_);
	for (std::uint64_t id = 1; id <= 200; id++)
		ASSERT_TRUE(cpu.nic_receive(packet(id), 0));
	run(cpu);
	ASSERT_EQ(runner_.ended.size(), 200u);
	for (std::uint64_t i = 0; i < 200; i++)
		EXPECT_EQ(runner_.ended[i], i + 1) << "one flow on one CPU stays in order on the slow path";
	// The first polls: the NIC's 64, then the gro_cell scheduled meanwhile and the NIC repolled, then
	// the backlog, the gro_cell and the NIC again: each a 64-packet block, in net_rx_action's order.
	std::vector<NapiKind> k = runner_.kinds();
	auto block = [&](std::size_t b) { return k[b * 64]; };
	EXPECT_EQ(block(0), NapiKind::nic);
	EXPECT_EQ(block(1), NapiKind::gro_cell);
	EXPECT_EQ(block(2), NapiKind::nic);
	EXPECT_EQ(block(3), NapiKind::backlog);
	EXPECT_EQ(block(4), NapiKind::gro_cell);
	EXPECT_EQ(block(5), NapiKind::nic);
	for (std::size_t b = 0; b < 6; b++)
		for (std::size_t i = 1; i < 64; i++)
			ASSERT_EQ(k[b * 64 + i], block(b)) << "block " << b << " is one poll of 64";
	EXPECT_EQ(cpu.stats().time_squeeze, 0u) << "three NAPIs of weight 64 never reach a budget of 300";
}

TEST_F(SoftnetTest, TheBudgetCutsARoundShort)
{
	runner_.route = [](NapiKind kind, std::uint64_t) {
		return kind == NapiKind::nic ? Next::gro_cells : Next::done;
	};
	SoftnetConfig config;
	config.netdev_budget = 100;
	Softnet cpu(config, runner_);
	for (std::uint64_t id = 1; id <= 128; id++)
		ASSERT_TRUE(cpu.nic_receive(packet(id), 0));
	run(cpu);
	// Round 1: NIC 64 (the list runs dry with the NIC to repoll). Round 2: gro_cell 64 (36 left),
	// NIC 64 → -28: squeezed. Round 3: the gro_cell's other 64, the NIC's empty poll.
	std::vector<NapiKind> k = runner_.kinds();
	ASSERT_EQ(k.size(), 256u);
	EXPECT_EQ(k[0], NapiKind::nic);
	EXPECT_EQ(k[64], NapiKind::gro_cell);
	EXPECT_EQ(k[128], NapiKind::nic);
	EXPECT_EQ(k[192], NapiKind::gro_cell);
	EXPECT_GE(cpu.stats().time_squeeze, 1u);
}

TEST_F(SoftnetTest, TheTimeLimitCutsARoundShort)
{
	runner_.route = [](NapiKind kind, std::uint64_t) {
		return kind == NapiKind::nic ? Next::gro_cells : Next::done;
	};
	runner_.cost = 40'000; // 64 packets take 2.56 ms, past netdev_budget_usecs
	Softnet cpu(SoftnetConfig{}, runner_);
	for (std::uint64_t id = 1; id <= 128; id++)
		ASSERT_TRUE(cpu.nic_receive(packet(id), 0));
	run(cpu);
	EXPECT_GE(cpu.stats().time_squeeze, 1u);
	EXPECT_EQ(runner_.ended.size(), 128u);
}

TEST_F(SoftnetTest, TheBacklogHoldsNetdevMaxBacklogPlusOneThenDrops)
{
	Softnet cpu(SoftnetConfig{}, runner_);
	// enqueue_to_backlog: qlen <= netdev_max_backlog (1000) is accepted, so 1001 fit.
	for (std::uint64_t id = 1; id <= 1001; id++)
		ASSERT_TRUE(cpu.netif_rx(packet(id))) << id;
	EXPECT_FALSE(cpu.netif_rx(packet(1002)));
	EXPECT_EQ(cpu.queue(NapiKind::backlog).drops(), 1u);
	EXPECT_TRUE(cpu.busy()) << "the first packet scheduled the backlog's NAPI";
	run(cpu);
	ASSERT_EQ(runner_.ended.size(), 1001u);
	EXPECT_EQ(runner_.ended.front(), 1u);
	EXPECT_EQ(runner_.ended.back(), 1001u);
	EXPECT_TRUE(cpu.netif_rx(packet(1003))) << "drained: room again";
	run(cpu);
}

TEST_F(SoftnetTest, GroCellsHoldNetdevMaxBacklogPlusOneThenDrop)
{
	SoftnetConfig config;
	config.netdev_max_backlog = 10;
	Softnet cpu(config, runner_);
	for (std::uint64_t id = 1; id <= 11; id++)
		ASSERT_TRUE(cpu.gro_cells_receive(packet(id)));
	EXPECT_FALSE(cpu.gro_cells_receive(packet(12)));
	EXPECT_EQ(cpu.queue(NapiKind::gro_cell).drops(), 1u);
	run(cpu);
	EXPECT_EQ(runner_.ended.size(), 11u);
}

TEST_F(SoftnetTest, AFullBacklogDropsWhatASegmentHandsOn)
{
	SoftnetConfig config;
	config.netdev_max_backlog = 3;
	runner_.route = [](NapiKind kind, std::uint64_t) { return kind == NapiKind::nic ? Next::backlog : Next::done; };
	Softnet cpu(config, runner_);
	for (std::uint64_t id = 1; id <= 10; id++)
		ASSERT_TRUE(cpu.nic_receive(packet(id), 0));
	run(cpu);
	// One NIC poll hands all 10 on before the backlog's first poll: 4 fit, 6 are dropped.
	EXPECT_EQ(runner_.dropped, (std::vector<std::uint64_t>{5, 6, 7, 8, 9, 10}));
	EXPECT_EQ(cpu.queue(NapiKind::backlog).drops(), 6u);
}

TEST_F(SoftnetTest, AFullRingRefusesAndAnIdleCpuWakesAtTheArrival)
{
	SoftnetConfig config;
	config.nic_ring = 2;
	Softnet cpu(config, runner_);
	EXPECT_TRUE(cpu.nic_receive(packet(1), 5000));
	EXPECT_TRUE(cpu.nic_receive(packet(2), 5000));
	EXPECT_FALSE(cpu.nic_receive(packet(3), 5000));
	EXPECT_EQ(cpu.queue(NapiKind::nic).drops(), 1u);
	run(cpu);
	EXPECT_EQ(runner_.polled.front().at, 5000) << "the interrupt woke the CPU when the frame arrived";
	EXPECT_EQ(cpu.now(), 5200);
	// Idle since 5200: a frame at 9000 starts at 9000, not earlier.
	EXPECT_TRUE(cpu.nic_receive(packet(4), 9000));
	run(cpu);
	EXPECT_EQ(runner_.polled.back().at, 9000);
}

// B18 in miniature: packets 1-128 take the slow path; from packet 129 on the flow is cached, so the
// NIC's poll delivers them at once. Packets 65-128, still in gro_cells or the backlog then, reach
// the socket after later ones.
TEST_F(SoftnetTest, FastPathPacketsOvertakeTheSlowPathsQueues)
{
	runner_.route = [](NapiKind kind, std::uint64_t id) {
		if (kind == NapiKind::nic)
			return id <= 128 ? Next::gro_cells : Next::done;
		return kind == NapiKind::gro_cell ? Next::backlog : Next::done;
	};
	Softnet cpu(SoftnetConfig{}, runner_);
	for (std::uint64_t id = 1; id <= 192; id++)
		ASSERT_TRUE(cpu.nic_receive(packet(id), 0));
	run(cpu);
	ASSERT_EQ(runner_.ended.size(), 192u);
	// Order of endings: 1-64 (backlog, round 3), 129-192 (NIC, round 3), 65-128 (backlog, round 4).
	EXPECT_EQ(runner_.ended[0], 1u);
	EXPECT_EQ(runner_.ended[63], 64u);
	EXPECT_EQ(runner_.ended[64], 129u);
	EXPECT_EQ(runner_.ended[127], 192u);
	EXPECT_EQ(runner_.ended[128], 65u);
	std::uint64_t latest = 0, out_of_order = 0;
	for (std::uint64_t id : runner_.ended) {
		if (id < latest)
			out_of_order++;
		latest = std::max(latest, id);
	}
	EXPECT_EQ(out_of_order, 64u);
}

} // namespace
} // namespace econsim::sim::timing
