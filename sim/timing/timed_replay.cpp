#include "timing/timed_replay.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <sstream>

namespace econsim::sim::timing {

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

std::optional<double> positive_number(std::string_view text)
{
	std::string s(text);
	char *end = nullptr;
	double v = std::strtod(s.c_str(), &end);
	if (s.empty() || *end || !std::isfinite(v) || !(v > 0))
		return std::nullopt;
	return v;
}

// The rows of the summary's table, in path order.
constexpr const char *kRows[] = {"nic_rx",       "per_byte",  "fastpath_hit", "ip_rcv",  "ip_rcv_early", "vxlan_rcv",
				 "gro_cells",    "br_handle_frame", "br_netfilter", "veth_xmit", "backlog",
				 "ip_rcv_container", "deliver"};

std::string us(std::int64_t ns, int decimals = 3)
{
	std::ostringstream s;
	s << std::fixed << std::setprecision(decimals) << static_cast<double>(ns) / 1000.0;
	return s.str();
}

std::string per_packet_us(std::int64_t ns, std::uint64_t packets)
{
	return packets ? us(static_cast<std::int64_t>(std::llround(static_cast<double>(ns) / static_cast<double>(packets))))
		       : std::string("-");
}

std::string kpps(std::int64_t ns_per_packet)
{
	if (ns_per_packet <= 0)
		return "-";
	std::ostringstream s;
	s << std::fixed << std::setprecision(0) << 1e6 / static_cast<double>(ns_per_packet) << " kpps";
	return s.str();
}

} // namespace

std::optional<double> parse_speed(std::string_view text)
{
	if (text.ends_with("x"))
		text.remove_suffix(1);
	return positive_number(text);
}

std::optional<double> parse_rate(std::string_view text)
{
	return positive_number(text);
}

TimedReplay::TimedReplay(HostPipeline &pipeline, const Scenario &scenario, const TimingOptions &options)
	: pipeline_(pipeline), scenario_(scenario), options_(options),
	  costs_(options.costs ? load_costs(*options.costs) : measured_costs()), mode_(pipeline.mode())
{
	SegmentRunner &runner = *this;
	for (int i = 0; i < scenario.host.cpus; i++)
		cpus_.push_back(std::make_unique<Softnet>(options_.softnet, runner));
	pipeline_.observe_stages(this);
}

TimedReplay::~TimedReplay()
{
	pipeline_.observe_stages(nullptr);
	cpus_.clear(); // unlinks what is still queued before the nodes go
}

// ---- virtual time ---------------------------------------------------------------------------------

std::int64_t TimedReplay::arrival_time(const CaptureFrame &frame) const
{
	if (options_.rate_pps)
		return t0_ + std::llround(static_cast<double>(frame.number - first_number_) * 1e9 / *options_.rate_pps);
	return t0_ + std::llround(static_cast<double>(frame.timestamp_ns - t0_) / options_.speed);
}

// The trace's clock at a virtual instant: what stages take as "now" (FDB ageing, ECON's insert guard).
std::int64_t TimedReplay::to_trace_time(std::int64_t virtual_ns) const
{
	return t0_ + std::llround(static_cast<double>(virtual_ns - t0_) * options_.speed);
}

// With --rate the trace's gaps are gone: an event applies when the first frame after it arrives.
std::int64_t TimedReplay::next_event_time() const
{
	if (options_.rate_pps || next_event_ >= scenario_.events.size())
		return kNever;
	return t0_ + std::llround(static_cast<double>(scenario_.events[next_event_].t_ns - t0_) / options_.speed);
}

void TimedReplay::apply_events_until(std::int64_t trace_ns)
{
	pipeline_.apply_events_until(trace_ns);
	while (next_event_ < scenario_.events.size() && scenario_.events[next_event_].t_ns <= trace_ns)
		next_event_++;
}

// ---- the event loop -------------------------------------------------------------------------------

Softnet *TimedReplay::earliest_busy_cpu()
{
	Softnet *earliest = nullptr;
	for (auto &cpu : cpus_)
		if (cpu->busy() && (!earliest || cpu->now() < earliest->now()))
			earliest = cpu.get();
	return earliest;
}

void TimedReplay::run(CaptureReader &reader, const Sink &sink)
{
	sink_ = &sink;
	std::exception_ptr capture_error;
	auto read = [&]() -> std::optional<CaptureFrame> {
		if (capture_error)
			return std::nullopt;
		try {
			return reader.next();
		} catch (const CaptureError &) {
			capture_error = std::current_exception();
			return std::nullopt;
		}
	};
	std::optional<CaptureFrame> next = read();
	if (next) {
		t0_ = next->timestamp_ns;
		first_number_ = next->number;
		next_release_ = next->number;
	}
	// Whichever comes first: a scenario event, a frame reaching the NIC, or the next step of the CPU
	// that is furthest behind. At equal times, events first (as without --timing), then arrivals.
	for (;;) {
		Softnet *cpu = earliest_busy_cpu();
		if (!next && !cpu)
			break;
		std::int64_t t_arrival = next ? arrival_time(*next) : kNever;
		std::int64_t t_cpu = cpu ? cpu->now() : kNever;
		std::int64_t t_event = next_event_time();
		if (t_event <= t_arrival && t_event <= t_cpu) {
			apply_events_until(scenario_.events[next_event_].t_ns);
		} else if (next && t_arrival <= t_cpu) {
			arrive(*next);
			next = read();
		} else {
			cpu->step();
		}
	}
	sink_ = nullptr;
	if (capture_error)
		std::rethrow_exception(capture_error);
}

TimedPacket &TimedReplay::allocate()
{
	if (free_.empty()) {
		all_.push_back(std::make_unique<TimedPacket>());
		return *all_.back();
	}
	TimedPacket *p = free_.back();
	free_.pop_back();
	return *p;
}

void TimedReplay::recycle(TimedPacket &p)
{
	p.flow.reset();
	p.cpu_ns = 0;
	p.received = false;
	p.on_slow_path = false;
	p.hit_queued = false;
	p.done = false;
	free_.push_back(&p);
}

// The frame reaches the NIC: nic_rx (the hardware's part: direction, RSS hash and CPU) runs now,
// and a received frame waits in its CPU's RX ring for the NIC's NAPI poll.
void TimedReplay::arrive(const CaptureFrame &frame)
{
	std::int64_t at = arrival_time(frame);
	apply_events_until(frame.timestamp_ns);
	TimedPacket &p = allocate();
	p.bytes.assign(frame.bytes.begin(), frame.bytes.end());
	p.frame = frame;
	p.frame.bytes = std::span<const std::uint8_t>(p.bytes);
	p.arrival_ns = at;
	if (!pipeline_.arrive(p.frame, p.pkt)) {
		finish(p, at); // transmitted (and checked), or ignored
		return;
	}
	p.flow = flow_key(p.pkt.parsed);
	p.received = true;
	if (received_++ == 0)
		first_arrival_ = at;
	if (!cpus_[p.pkt.cpu]->nic_receive(p, at)) {
		p.pkt.drop(Stage::nic_rx, "rx_ring_full",
			   [&] { return "CPU " + std::to_string(p.pkt.cpu) + "'s RX ring was full (rx_missed_errors)"; });
		finish(p, at);
	}
}

// ---- the segments ---------------------------------------------------------------------------------

void TimedReplay::charge(const char *row, std::int64_t ns)
{
	segment_cost_ += ns;
	cpu_by_row_[row] += ns;
}

// The underlay's IP/UDP pass. In fixed mode the series' early receive takes a VXLAN datagram that
// is not a fragment from ip_rcv_finish() to the VXLAN socket, past the route lookup (its decision
// kept) and the socket lookup, hit or miss alike (docs/kernel-patch.md, "The early receive"). On a
// node with netfilter (host.netfilter: conntrack's LOCAL_IN hook in the underlay's namespace) it
// runs the hooks and looks the route up: unmeasured, so priced as the whole pass. A scenario has
// no raw socket that would make it decline.
void TimedReplay::charge_outer_pass(const Packet &pkt)
{
	const bool early = mode_ == FastpathMode::fixed && pkt.parsed.is_vxlan() && !scenario_.host.netfilter &&
			   !(pkt.parsed.outer_ip && pkt.parsed.outer_ip->is_fragment());
	if (early)
		charge("ip_rcv_early", costs_.ip_rcv_early);
	else
		charge("ip_rcv", costs_.ip_rcv);
}

void TimedReplay::entered(Stage stage, const Packet &pkt)
{
	// udp_rcv and socket_lookup are part of the IP/UDP pass ip_rcv and ip_rcv_container charge; a
	// fast-path lookup that misses costs nothing measurable; deliver is charged once a segment ends
	// in a delivery (the fast path and udp_rcv deliver without entering it as a stage).
	switch (stage) {
	case Stage::ip_rcv:
		charge_outer_pass(pkt);
		break;
	case Stage::vxlan_rcv:
		charge("vxlan_rcv", costs_.vxlan_rcv);
		break;
	case Stage::br_handle_frame:
		charge("br_handle_frame", costs_.br_handle_frame);
		charge("br_netfilter", costs_.br_netfilter);
		break;
	case Stage::veth_xmit:
		charge("veth_xmit", costs_.veth_xmit);
		break;
	case Stage::ip_rcv_container:
		charge("ip_rcv_container", costs_.ip_rcv_container);
		break;
	default:
		break;
	}
}

void TimedReplay::begin_segment(TimedPacket &p, std::int64_t now_ns)
{
	segment_cost_ = 0;
	if (!options_.rate_pps)
		p.pkt.ts_ns = to_trace_time(now_ns);
}

Segment TimedReplay::end_segment(TimedPacket &p, bool goes_on, Next next, std::int64_t now_ns)
{
	if (goes_on) {
		if (p.flow && !p.on_slow_path) {
			in_flight_.add(*p.flow);
			p.on_slow_path = true;
		}
		p.cpu_ns += segment_cost_;
		return {next, segment_cost_};
	}
	const Verdict &v = p.pkt.verdict;
	if (v.verdict == VerdictKind::deliver) {
		charge("deliver", costs_.deliver);
		if (v.path == Path::slow && p.pkt.parsed.is_vxlan())
			charge("per_byte", std::llround(costs_.per_byte_overlay * p.frame.wire_length));
	}
	p.cpu_ns += segment_cost_;
	finish(p, now_ns + segment_cost_);
	return {Next::done, segment_cost_};
}

Segment TimedReplay::nic_poll(TimedPacket &p, std::int64_t now_ns)
{
	begin_segment(p, now_ns);
	charge("nic_rx", costs_.nic_rx);
	charge("per_byte", std::llround(costs_.per_byte_rx * p.frame.wire_length));
	const unsigned in_flight = p.flow ? in_flight_.count(*p.flow) : 0;
	const bool goes_on = pipeline_.nic_segment(p.pkt);
	if (goes_on || p.pkt.verdict.path != Path::fast)
		return end_segment(p, goes_on, Next::gro_cells, now_ns);
	if (mode_ == FastpathMode::fixed) {
		// The series looks up in vxlan_rcv, after the outer IP/UDP pass, and queues the hit on
		// the VXLAN device's gro_cell, behind whatever of its flow waits there: its socket is
		// decided now, by the lookup, and reached in the cell's poll.
		charge_outer_pass(p.pkt);
		charge("vxlan_rcv", costs_.vxlan_rcv);
		p.hit_queued = true;
		p.cpu_ns += segment_cost_;
		return {Next::gro_cells, segment_cost_};
	}
	// ECON: the hit is delivered from the NIC's poll, past the flow's packets still queued.
	charge("fastpath_hit", costs_.fastpath_hit);
	if (in_flight > 0 && p.pkt.verdict.verdict == VerdictKind::deliver)
		overtaking_hits_++;
	return end_segment(p, false, Next::done, now_ns);
}

Segment TimedReplay::gro_cell_poll(TimedPacket &p, std::int64_t now_ns)
{
	begin_segment(p, now_ns);
	if (p.hit_queued) {
		// The cell's poll runs the hit's own work (no GRO, no receive on the VXLAN device). A
		// packet of its flow still in the backlog (a miss, or a hit queued there) was ahead of it:
		// the hit waits behind it there (the series' BEHIND_BACKLOG), else it reaches its socket now.
		charge("fastpath_hit", costs_.fastpath_hit);
		if (p.flow && in_flight_.count(*p.flow) > 0) {
			// On, as a slow-path packet goes on: counted in flight until delivered, so that a
			// later hit waits behind it too.
			hits_behind_backlog_++;
			return end_segment(p, true, Next::backlog, now_ns);
		}
		return end_segment(p, false, Next::done, now_ns);
	}
	charge("gro_cells", costs_.gro_cells);
	return end_segment(p, pipeline_.gro_cell_segment(p.pkt), Next::backlog, now_ns);
}

Segment TimedReplay::backlog_poll(TimedPacket &p, std::int64_t now_ns)
{
	begin_segment(p, now_ns);
	charge("backlog", costs_.backlog);
	if (!p.hit_queued)
		pipeline_.backlog_segment(p.pkt);
	return end_segment(p, false, Next::done, now_ns);
}

void TimedReplay::queue_drop(TimedPacket &p, NapiKind where, std::int64_t now_ns)
{
	if (where == NapiKind::gro_cell)
		p.pkt.drop(Stage::gro_cells_receive, "gro_cells_full", "the VXLAN device's gro_cell held netdev_max_backlog packets");
	else
		p.pkt.drop(Stage::enqueue_to_backlog, "backlog_full", "the backlog's input queue held netdev_max_backlog packets");
	finish(p, now_ns);
}

// ---- endings, in trace order ------------------------------------------------------------------------

void TimedReplay::finish(TimedPacket &p, std::int64_t done_ns)
{
	p.done = true;
	p.done_ns = done_ns;
	if (p.on_slow_path) {
		in_flight_.remove(*p.flow);
		p.on_slow_path = false;
	}
	HostPipeline::complete_verdict(p.pkt);
	Verdict &v = p.pkt.verdict;
	if (p.received) {
		last_end_ = std::max(last_end_, done_ns);
		bool delivered = v.verdict == VerdictKind::deliver;
		PathCost &path = !delivered                ? dropped_
				 : v.path == Path::fast       ? fast_
				 : !p.pkt.parsed.is_vxlan()   ? host_
							      : slow_;
		path.packets++;
		path.cpu_ns += p.cpu_ns;
		if (delivered) {
			v.latency_ns = done_ns - p.arrival_ns;
			path.latency.add(*v.latency_ns);
			latency_all_.add(*v.latency_ns);
			std::string flow = v.flow ? model::to_string(*v.flow) : "?";
			if (v.vni)
				flow += " vni " + std::to_string(*v.vni);
			reorder_.delivered(flow, p.frame.number);
		}
	}
	ended_.emplace(p.frame.number, &p);
	release();
}

void TimedReplay::release()
{
	while (!ended_.empty() && ended_.begin()->first == next_release_) {
		TimedPacket &p = *ended_.begin()->second;
		ended_.erase(ended_.begin());
		next_release_++;
		if (sink_)
			(*sink_)(p.frame, p.pkt);
		recycle(p);
	}
}

// ---- the summary ----------------------------------------------------------------------------------

std::uint64_t TimedReplay::queue_drops(NapiKind kind) const
{
	std::uint64_t n = 0;
	for (const auto &cpu : cpus_)
		n += cpu->queue(kind).drops();
	return n;
}

std::int64_t TimedReplay::cpu_ns() const
{
	std::int64_t n = 0;
	for (const auto &cpu : cpus_)
		n += cpu->stats().busy_ns;
	return n;
}

void TimedReplay::summarize(std::ostream &out) const
{
	out << "timing (virtual time): arrivals ";
	if (options_.rate_pps)
		out << "at " << std::llround(*options_.rate_pps) << " frames/s";
	else
		out << "at the trace's times" << (options_.speed != 1.0 ? " sped up " + std::to_string(options_.speed) + "x" : "");
	out << "; costs " << costs_.source << (costs_.machine.empty() ? "" : ", measured on " + costs_.machine) << "\n";

	std::uint64_t ring_drops = queue_drops(NapiKind::nic);
	std::uint64_t polled = received_ - ring_drops;
	std::int64_t total = cpu_ns();
	std::int64_t span = last_end_ - first_arrival_;
	out << "  received " << received_ << " frames on " << cpus_.size() << " CPUs in " << us(span, 1) << " µs";
	if (span > 0)
		out << " (" << std::llround(static_cast<double>(received_) * 1e9 / static_cast<double>(span)) << " pps offered)";
	out << "\n  CPU per received packet by stage (µs, over the " << polled << " the NIC's poll took):\n";
	for (const char *row : kRows) {
		auto it = cpu_by_row_.find(row);
		if (it == cpu_by_row_.end() || it->second == 0)
			continue;
		out << "    " << std::left << std::setw(18) << row << std::right << std::setw(9)
		    << per_packet_us(it->second, polled) << "\n";
	}
	out << "    " << std::left << std::setw(18) << "total" << std::right << std::setw(9) << per_packet_us(total, polled)
	    << "   (" << us(total) << " µs of CPU;";
	for (std::size_t i = 0; i < cpus_.size(); i++) {
		double busy = span > 0 ? 100.0 * static_cast<double>(cpus_[i]->stats().busy_ns) / static_cast<double>(span) : 0;
		out << " cpu" << i << " busy " << std::fixed << std::setprecision(1) << busy << "%";
	}
	out << ")\n";
	auto path = [&](const char *name, const PathCost &c) {
		if (!c.packets)
			return;
		out << "    " << std::left << std::setw(18) << name << std::right << std::setw(9)
		    << per_packet_us(c.cpu_ns, c.packets) << "   " << c.packets << " packets";
		if (&c != &dropped_)
			out << ", one core saturates at "
			    << kpps(static_cast<std::int64_t>(std::llround(static_cast<double>(c.cpu_ns) / static_cast<double>(c.packets))));
		out << "\n";
	};
	out << "  CPU per packet by path (µs):\n";
	path("host", host_);
	path("overlay slow", slow_);
	path("overlay fast", fast_);
	path("not delivered", dropped_);
	if (polled)
		out << "  one core saturates at "
		    << kpps(static_cast<std::int64_t>(std::llround(static_cast<double>(total) / static_cast<double>(polled))))
		    << " with this mix (1 / CPU per packet): the offered load above which its queues grow and drop\n";

	auto latency = [&](const char *name, const LatencyHistogram &h) {
		if (!h.count())
			return;
		out << "  latency arrival → socket, " << name << " (µs): p50 " << us(h.percentile(0.5)) << ", p99 "
		    << us(h.percentile(0.99)) << ", max " << us(h.max()) << "  (" << h.count() << " deliveries)\n";
	};
	latency("all", latency_all_);
	latency("slow path", slow_.latency);
	latency("fast path", fast_.latency);
	latency("host", host_.latency);

	std::uint64_t rounds = 0, squeeze = 0;
	std::size_t deepest[3] = {0, 0, 0};
	for (const auto &cpu : cpus_) {
		rounds += cpu->stats().rounds;
		squeeze += cpu->stats().time_squeeze;
		for (NapiKind k : {NapiKind::nic, NapiKind::gro_cell, NapiKind::backlog})
			deepest[static_cast<int>(k)] = std::max(deepest[static_cast<int>(k)], cpu->queue(k).max_depth());
	}
	out << "  queues: drops ring " << ring_drops << ", gro_cells " << queue_drops(NapiKind::gro_cell) << ", backlog "
	    << queue_drops(NapiKind::backlog) << "; deepest ring " << deepest[0] << ", gro_cells " << deepest[1]
	    << ", backlog " << deepest[2] << "; net_rx_action rounds " << rounds << ", time_squeeze " << squeeze << "\n";

	std::uint64_t flows_reordered = 0, deliveries = 0;
	for (const auto &[flow, f] : reorder_.flows()) {
		deliveries += f.delivered;
		flows_reordered += f.out_of_order ? 1 : 0;
	}
	out << "  reordering (B18): " << reorder_.out_of_order() << " out-of-order deliveries in " << flows_reordered << " of "
	    << reorder_.flows().size() << " flows (" << deliveries << " deliveries)\n";
	unsigned listed = 0;
	for (const auto &[flow, f] : reorder_.flows()) {
		if (!f.out_of_order)
			continue;
		if (++listed > 10) {
			out << "    ...\n";
			break;
		}
		out << "    " << flow << ": " << f.out_of_order << " of " << f.delivered << "\n";
	}
	if (mode_ == FastpathMode::econ)
		out << "  fast-path hits that overtook slow-path packets of their flow: " << overtaking_hits_ << "\n";
	if (mode_ == FastpathMode::fixed)
		out << "  hits queued behind their flow's packets in the backlog: " << hits_behind_backlog_ << "\n";
}

} // namespace econsim::sim::timing
