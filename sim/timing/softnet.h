// One simulated CPU's receive side: its softnet_data (poll list, backlog), the NIC queue RSS maps
// to it and the VXLAN device's gro_cell on it, and net_rx_action run step by step in virtual time.
// What a packet costs and where it goes after each poll is a SegmentRunner's (the timed replay
// runs the pipeline's segments; tests give hand-built ones).
//
// net_rx_action as in Linux 6.x (net/core/dev.c): take the poll list; poll each NAPI in turn, at
// most its weight (64) each; a NAPI that used its whole weight goes to the repoll list, one that did
// not completes (napi_complete_done) and is rescheduled by its next packet; NAPIs scheduled during
// the round are polled in the same round when the list and the repoll list have run dry, otherwise
// in the next. A round ends when the list is done, when the budget (netdev_budget, 300 packets) is
// spent, or after netdev_budget_usecs (2 ms): the last two count a time_squeeze. Leftovers, then
// newly scheduled NAPIs, then repolled ones form the next round's list.
#pragma once

#include <cstdint>

#include "timing/napi.h"
#include "timing/packet_queue.h"

namespace econsim::sim::timing {

struct SoftnetConfig {
	int netdev_budget = 300;                   // packets per net_rx_action
	std::int64_t netdev_budget_ns = 2'000'000; // netdev_budget_usecs
	int weight = 64;                           // NAPI_POLL_WEIGHT: the NIC's and the gro_cell's NAPI
	int dev_weight = 64;                       // net.core.dev_weight (weight_p): the backlog's
	std::size_t nic_ring = 1024;               // RX descriptors per queue (mlx5's default)
	std::size_t netdev_max_backlog = 1000;     // gro_cells and the backlog
};

// Where a packet goes after the segment a poll ran for it.
enum class Next { done, gro_cells, backlog };

struct Segment {
	Next next = Next::done;
	std::int64_t cost_ns = 0;
};

// The work per packet. The runner is told the virtual time the segment starts; it ends cost_ns later.
class SegmentRunner {
public:
	virtual ~SegmentRunner() = default;
	virtual Segment nic_poll(TimedPacket &p, std::int64_t now_ns) = 0;
	virtual Segment gro_cell_poll(TimedPacket &p, std::int64_t now_ns) = 0;
	virtual Segment backlog_poll(TimedPacket &p, std::int64_t now_ns) = 0;
	// A queue refused the packet at now_ns (where: the queue's NAPI kind).
	virtual void queue_drop(TimedPacket &p, NapiKind where, std::int64_t now_ns) = 0;
};

struct SoftnetStats {
	std::int64_t busy_ns = 0;
	std::uint64_t rounds = 0;        // net_rx_action runs
	std::uint64_t time_squeeze = 0;  // rounds cut by the budget or the time limit
	std::uint64_t polls = 0;
	std::uint64_t packets = 0;       // segments run
};

class Softnet {
public:
	Softnet(const SoftnetConfig &config, SegmentRunner &runner);
	~Softnet();
	Softnet(const Softnet &) = delete;
	Softnet &operator=(const Softnet &) = delete;

	// The NIC put p in this CPU's RX queue at now_ns (its interrupt schedules the NIC's NAPI).
	// False when the ring was full: the caller drops it.
	bool nic_receive(TimedPacket &p, std::int64_t now_ns);
	// gro_cells_receive and netif_rx → enqueue_to_backlog, on this CPU: false when over
	// netdev_max_backlog (the caller drops). Each schedules its NAPI when its queue was empty.
	bool gro_cells_receive(TimedPacket &p);
	bool netif_rx(TimedPacket &p);

	// Something to run: in net_rx_action, or a NAPI scheduled.
	bool busy() const { return in_action_ || !poll_list_.empty(); }
	// When its next step starts (while busy); the time it went idle otherwise.
	std::int64_t now() const { return now_; }
	// One step: one packet of the NAPI being polled, or net_rx_action's bookkeeping between polls.
	void step();

	const SoftnetStats &stats() const { return stats_; }
	const PacketQueue &queue(NapiKind kind) const;
	std::size_t queued() const;

private:
	void schedule(Napi &napi);
	bool enqueue_and_schedule(PacketQueue &queue, Napi &napi, TimedPacket &p);
	TimedPacket *take(Napi &napi);
	void run_segment(NapiKind kind, TimedPacket &p);
	void end_round();

	SoftnetConfig config_;
	SegmentRunner &runner_;
	Napi nic_napi_, gro_napi_, backlog_napi_;
	PacketQueue ring_, gro_cell_, input_pkt_queue_, process_queue_;
	NapiList poll_list_; // softnet_data.poll_list
	NapiList list_;      // net_rx_action's local list
	NapiList repoll_;    // and its repoll list
	Napi *polling_ = nullptr;
	int work_ = 0;
	int budget_ = 0;
	bool in_action_ = false;
	std::int64_t now_ = 0;
	std::int64_t round_start_ = 0;
	SoftnetStats stats_;
};

} // namespace econsim::sim::timing
