#include "timing/softnet.h"

#include <algorithm>

namespace econsim::sim::timing {

Softnet::Softnet(const SoftnetConfig &config, SegmentRunner &runner)
	: config_(config), runner_(runner), nic_napi_(NapiKind::nic, config.weight),
	  gro_napi_(NapiKind::gro_cell, config.weight), backlog_napi_(NapiKind::backlog, config.dev_weight),
	  ring_(config.nic_ring), gro_cell_(config.netdev_max_backlog + 1),
	  input_pkt_queue_(config.netdev_max_backlog + 1), process_queue_(SIZE_MAX)
{
}

Softnet::~Softnet()
{
	poll_list_.clear();
	list_.clear();
	repoll_.clear();
}

const PacketQueue &Softnet::queue(NapiKind kind) const
{
	switch (kind) {
	case NapiKind::nic: return ring_;
	case NapiKind::gro_cell: return gro_cell_;
	case NapiKind::backlog: break;
	}
	return input_pkt_queue_;
}

std::size_t Softnet::queued() const
{
	return ring_.size() + gro_cell_.size() + input_pkt_queue_.size() + process_queue_.size();
}

// ____napi_schedule: onto the tail of the poll list, unless already scheduled.
void Softnet::schedule(Napi &napi)
{
	if (napi.scheduled)
		return;
	napi.scheduled = true;
	poll_list_.push_back(napi);
}

bool Softnet::nic_receive(TimedPacket &p, std::int64_t now_ns)
{
	if (!busy())
		now_ = std::max(now_, now_ns); // the interrupt wakes an idle CPU
	if (!ring_.enqueue(p))
		return false;
	schedule(nic_napi_); // the IRQ is masked while the NAPI is scheduled: a no-op then
	return true;
}

// gro_cells_receive (drop when skb_queue_len(&cell->napi_skbs) > netdev_max_backlog) and
// enqueue_to_backlog (drop when skb_queue_len(&sd->input_pkt_queue) > netdev_max_backlog) alike:
// the limit is the queue's capacity, and the packet that finds its queue empty schedules the NAPI
// (a no-op when it is already scheduled).
bool Softnet::enqueue_and_schedule(PacketQueue &queue, Napi &napi, TimedPacket &p)
{
	if (!queue.enqueue(p))
		return false;
	if (queue.size() == 1)
		schedule(napi);
	return true;
}

bool Softnet::gro_cells_receive(TimedPacket &p)
{
	return enqueue_and_schedule(gro_cell_, gro_napi_, p);
}

bool Softnet::netif_rx(TimedPacket &p)
{
	return enqueue_and_schedule(input_pkt_queue_, backlog_napi_, p);
}

// The next packet a poll of napi gets. process_backlog works on process_queue and, when that is
// empty, splices the whole input_pkt_queue onto it.
TimedPacket *Softnet::take(Napi &napi)
{
	switch (napi.kind) {
	case NapiKind::nic:
		return ring_.dequeue();
	case NapiKind::gro_cell:
		return gro_cell_.dequeue();
	case NapiKind::backlog:
		if (process_queue_.empty())
			process_queue_.splice_tail(input_pkt_queue_);
		return process_queue_.dequeue();
	}
	return nullptr;
}

void Softnet::run_segment(NapiKind kind, TimedPacket &p)
{
	Segment s;
	switch (kind) {
	case NapiKind::nic: s = runner_.nic_poll(p, now_); break;
	case NapiKind::gro_cell: s = runner_.gro_cell_poll(p, now_); break;
	case NapiKind::backlog: s = runner_.backlog_poll(p, now_); break;
	}
	now_ += s.cost_ns;
	stats_.busy_ns += s.cost_ns;
	stats_.packets++;
	// The hand-off happens inside the segment; nothing else runs on this CPU meanwhile, so queueing
	// it at the segment's end orders it the same.
	if (s.next == Next::gro_cells && !gro_cells_receive(p))
		runner_.queue_drop(p, NapiKind::gro_cell, now_);
	if (s.next == Next::backlog && !netif_rx(p))
		runner_.queue_drop(p, NapiKind::backlog, now_);
}

// net_rx_action's tail: what is left of the list, then the NAPIs scheduled meanwhile, then those to
// repoll, become the poll list; a non-empty one raises NET_RX_SOFTIRQ again (the next step).
void Softnet::end_round()
{
	list_.splice(list_.end(), poll_list_);
	list_.splice(list_.end(), repoll_);
	poll_list_.splice(poll_list_.end(), list_);
	in_action_ = false;
}

void Softnet::step()
{
	if (!in_action_) {
		// net_rx_action starts: take the poll list.
		in_action_ = true;
		budget_ = config_.netdev_budget;
		round_start_ = now_;
		stats_.rounds++;
		list_.splice(list_.end(), poll_list_);
		return;
	}
	if (!polling_) {
		if (list_.empty()) {
			if (repoll_.empty()) {
				if (!poll_list_.empty()) { // scheduled during this round: "goto start"
					list_.splice(list_.end(), poll_list_);
					return;
				}
				in_action_ = false; // nothing left: the CPU idles until the next interrupt
				return;
			}
			end_round();
			return;
		}
		polling_ = &list_.front();
		list_.pop_front();
		work_ = 0;
		stats_.polls++;
		return;
	}
	if (work_ < polling_->weight) {
		if (TimedPacket *p = take(*polling_)) {
			work_++;
			run_segment(polling_->kind, *p);
			return;
		}
	}
	// The poll returns work_. A NAPI that used its whole weight stays scheduled, on the repoll list;
	// one that did not completes.
	if (work_ == polling_->weight)
		repoll_.push_back(*polling_);
	else
		polling_->scheduled = false;
	polling_ = nullptr;
	budget_ -= work_;
	if (budget_ <= 0 || now_ - round_start_ >= config_.netdev_budget_ns) {
		stats_.time_squeeze++;
		end_round();
	}
}

} // namespace econsim::sim::timing
