#include "host_pipeline.h"

#include <iomanip>

#include "stages/stages.h"

namespace econsim::sim {

HostPipeline::HostPipeline(const Scenario &scenario, FastpathMode mode)
	: scenario_(scenario), mode_(mode), parser_config_(parser_config(scenario)),
	  fastpath_(make_fastpath(mode, scenario)), host_(scenario)
{
}

void HostPipeline::count_end(const char *name)
{
	const Verdict &v = pkt_.verdict;
	stage_counts_[name].ended[v.reason ? *v.reason : std::string(to_string(v.verdict))]++;
}

bool HostPipeline::run(const char *name, Stage stage)
{
	stage_counts_[name].entered++;
	StageContext ctx{host_, *fastpath_};
	if (stage(ctx, pkt_))
		return true;
	count_end(name);
	return false;
}

void HostPipeline::receive()
{
	stage_counts_["fastpath"].entered++;
	if (fastpath_->rx(host_, pkt_)) {
		count_end("fastpath");
		return;
	}
	if (pkt_.fastpath_ticket_valid)
		pkt_.step("fastpath", "miss", "the slow path decides, and its answer may be cached");
	if (run("ip_rcv", ip_rcv) && run("udp_rcv", udp_rcv) && run("vxlan_rcv", vxlan_rcv) &&
	    run("br_handle_frame", br_handle_frame) && run("veth_xmit", veth_xmit) &&
	    run("ip_rcv_container", ip_rcv_container) && run("socket_lookup", socket_lookup) &&
	    run("deliver", deliver))
		count_end("deliver");
}

const Packet &HostPipeline::process(const CaptureFrame &frame, bool trace)
{
	host_.apply_events_until(frame.timestamp_ns, *fastpath_);
	pkt_ = Packet{};
	pkt_.number = frame.number;
	pkt_.ts_ns = frame.timestamp_ns;
	pkt_.tracing = trace;
	pkt_.verdict.pkt = frame.number;
	pkt_.verdict.ts_ns = frame.timestamp_ns;
	pkt_.parsed = parse_frame(frame.bytes, frame.wire_length, frame.link_type, parser_config_);

	if (!run("nic_rx", nic_rx))
		return pkt_;
	if (pkt_.dir == Direction::tx) {
		if (run("vxlan_xmit", vxlan_xmit))
			count_end("vxlan_xmit");
	} else {
		receive();
	}
	if (pkt_.flow && !pkt_.verdict.flow) {
		const model::FiveTuple &t = *pkt_.flow;
		pkt_.verdict.flow = model::to_string(t);
	}
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
