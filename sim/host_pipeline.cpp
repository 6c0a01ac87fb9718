#include "host_pipeline.h"

#include <iomanip>

#include "stages/stages.h"

namespace econsim::sim {

HostPipeline::HostPipeline(const Scenario &scenario, FastpathMode mode)
	: mode_(mode), parser_config_(parser_config(scenario)),
	  fastpath_(make_fastpath(mode, scenario)), host_(scenario)
{
}

void HostPipeline::count_end(const char *name, const Packet &pkt)
{
	const Verdict &v = pkt.verdict;
	stage_counts_[name].ended[v.reason ? *v.reason : std::string(to_string(v.verdict))]++;
}

void HostPipeline::enter(const char *name, const Packet &pkt)
{
	stage_counts_[name].entered++;
	if (observer_)
		observer_->entered(name, pkt);
}

bool HostPipeline::run(const char *name, Stage stage, Packet &pkt)
{
	enter(name, pkt);
	StageContext ctx{host_, *fastpath_};
	if (stage(ctx, pkt))
		return true;
	count_end(name, pkt);
	return false;
}

void HostPipeline::apply_events_until(std::int64_t now_ns)
{
	host_.apply_events_until(now_ns, *fastpath_);
}

bool HostPipeline::arrive(const CaptureFrame &frame, Packet &pkt, bool trace)
{
	pkt = Packet{};
	pkt.number = frame.number;
	pkt.ts_ns = frame.timestamp_ns;
	pkt.tracing = trace;
	pkt.verdict.pkt = frame.number;
	pkt.verdict.ts_ns = frame.timestamp_ns;
	pkt.parsed = parse_frame(frame.bytes, frame.wire_length, frame.link_type, parser_config_);

	if (!run("nic_rx", nic_rx, pkt))
		return false;
	if (pkt.dir == Direction::tx) {
		if (run("vxlan_xmit", vxlan_xmit, pkt))
			count_end("vxlan_xmit", pkt);
		return false;
	}
	return true;
}

bool HostPipeline::nic_segment(Packet &pkt, bool fastpath_allowed)
{
	if (fastpath_allowed) {
		enter("fastpath", pkt);
		if (fastpath_->rx(host_, pkt)) {
			count_end("fastpath", pkt);
			return false;
		}
		if (pkt.fastpath_ticket_valid)
			pkt.step("fastpath", "miss", "the slow path decides, and its answer may be cached");
	}
	return run("ip_rcv", ip_rcv, pkt) && run("udp_rcv", udp_rcv, pkt) && run("vxlan_rcv", vxlan_rcv, pkt);
}

bool HostPipeline::gro_cell_segment(Packet &pkt)
{
	return run("br_handle_frame", br_handle_frame, pkt) && run("veth_xmit", veth_xmit, pkt);
}

void HostPipeline::backlog_segment(Packet &pkt)
{
	if (run("ip_rcv_container", ip_rcv_container, pkt) && run("socket_lookup", socket_lookup, pkt) &&
	    run("deliver", deliver, pkt))
		count_end("deliver", pkt);
}

void HostPipeline::complete_verdict(Packet &pkt)
{
	if (pkt.flow && !pkt.verdict.flow) {
		const model::FiveTuple &t = *pkt.flow;
		pkt.verdict.flow = model::to_string(t);
	}
}

const Packet &HostPipeline::process(const CaptureFrame &frame, bool trace)
{
	host_.apply_events_until(frame.timestamp_ns, *fastpath_);
	if (arrive(frame, pkt_, trace) && nic_segment(pkt_) && gro_cell_segment(pkt_))
		backlog_segment(pkt_);
	complete_verdict(pkt_);
	return pkt_;
}

void HostPipeline::finish()
{
	host_.apply_remaining_events(*fastpath_);
}

void HostPipeline::summarize_stages(std::ostream &out) const
{
	static const char *const order[] = {"nic_rx", "fastpath", "ip_rcv", "udp_rcv", "vxlan_rcv",
					    "br_handle_frame", "veth_xmit", "ip_rcv_container", "socket_lookup",
					    "deliver", "vxlan_xmit"};
	out << "per stage (frames in; where those that stopped there ended):\n";
	for (const char *name : order) {
		auto it = stage_counts_.find(name);
		if (it == stage_counts_.end())
			continue;
		out << "  " << std::left << std::setw(17) << name << std::right << std::setw(9) << it->second.entered;
		const char *sep = "  ";
		for (const auto &[why, n] : it->second.ended) {
			out << sep << why << " " << n;
			sep = ", ";
		}
		out << "\n";
	}
}

} // namespace econsim::sim
