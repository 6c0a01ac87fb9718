// A FIFO of packets with a limit, as the kernel's per-CPU queues are sk_buff_heads with a length
// check before each enqueue: the NIC's RX ring (its descriptors), a VXLAN device's gro_cell and the
// backlog's input_pkt_queue. A packet the queue refuses is the caller's to drop.
#pragma once

#include <cstddef>
#include <cstdint>

#include "timing/timed_packet.h"

namespace econsim::sim::timing {

class PacketQueue {
public:
	// capacity: how many packets it holds at most. The kernel's "qlen > netdev_max_backlog → drop"
	// (gro_cells_receive, enqueue_to_backlog) holds netdev_max_backlog + 1.
	explicit PacketQueue(std::size_t capacity) : capacity_(capacity) {}
	~PacketQueue() { list_.clear(); }
	PacketQueue(const PacketQueue &) = delete;
	PacketQueue &operator=(const PacketQueue &) = delete;

	// False, and the packet is not linked, when the queue is full.
	bool enqueue(TimedPacket &p)
	{
		if (list_.size() >= capacity_) {
			drops_++;
			return false;
		}
		list_.push_back(p);
		if (list_.size() > max_depth_)
			max_depth_ = list_.size();
		return true;
	}

	// The oldest packet, unlinked; nullptr when empty.
	TimedPacket *dequeue()
	{
		if (list_.empty())
			return nullptr;
		TimedPacket &p = list_.front();
		list_.pop_front();
		return &p;
	}

	// Moves every packet of from to the tail (skb_queue_splice_tail_init); no limit applies.
	void splice_tail(PacketQueue &from)
	{
		list_.splice(list_.end(), from.list_);
		if (list_.size() > max_depth_)
			max_depth_ = list_.size();
	}

	std::size_t size() const { return list_.size(); }
	bool empty() const { return list_.empty(); }
	std::size_t capacity() const { return capacity_; }
	std::uint64_t drops() const { return drops_; }
	std::size_t max_depth() const { return max_depth_; }

private:
	PacketList list_;
	std::size_t capacity_;
	std::uint64_t drops_ = 0;
	std::size_t max_depth_ = 0;
};

} // namespace econsim::sim::timing
