#include "host_pipeline.h"

#include <iomanip>

#include "stages/stages.h"

namespace econsim::sim {

HostPipeline::HostPipeline(const Scenario &scenario, FastpathMode mode)
	: mode_(mode), parser_config_(parser_config(scenario)),
	  fastpath_(make_fastpath(mode, scenario)), host_(scenario)
{
}

void HostPipeline::count_end(Stage stage, const Packet &pkt)
{
	const Verdict &v = pkt.verdict;
	std::string_view why = v.reason ? std::string_view(*v.reason) : to_string(v.verdict);
	// Most frames end where and as the one before them did, with no reason: the key is then the
	// verdict's name, a literal, and its address finds the count without a search.
	LastEnd &last = last_end_[static_cast<std::size_t>(stage)];
	if (!v.reason && why.data() == last.verdict_name) {
		++*last.count;
		return;
	}
	auto &ended = stage_counts_[static_cast<std::size_t>(stage)].ended;
	auto it = ended.find(why);
	if (it == ended.end())
		it = ended.emplace(std::string(why), 0).first;
	it->second++;
	if (!v.reason)
		last = {why.data(), &it->second}; // a map's values stay where they are
}

void HostPipeline::enter(Stage stage, const Packet &pkt)
{
	stage_counts_[static_cast<std::size_t>(stage)].entered++;
	if (observer_)
		observer_->entered(stage, pkt);
}

bool HostPipeline::run(Stage stage, StageFunction function, Packet &pkt)
{
	enter(stage, pkt);
	StageContext ctx{host_, *fastpath_};
	if (function(ctx, pkt))
		return true;
	count_end(stage, pkt);
	return false;
}

void HostPipeline::apply_events_until(std::int64_t now_ns)
{
	host_.apply_events_until(now_ns, *fastpath_);
}

bool HostPipeline::arrive(const CaptureFrame &frame, Packet &pkt, bool trace)
{
	pkt.reset();
	pkt.number = frame.number;
	pkt.ts_ns = frame.timestamp_ns;
	pkt.tracing = trace;
	pkt.verdict.pkt = frame.number;
	pkt.verdict.ts_ns = frame.timestamp_ns;
	parse_frame(pkt.parsed, frame.bytes, frame.wire_length, frame.link_type, parser_config_);

	if (!run(Stage::nic_rx, nic_rx, pkt))
		return false;
	if (pkt.dir == Direction::tx) {
		if (run(Stage::vxlan_xmit, vxlan_xmit, pkt))
			count_end(Stage::vxlan_xmit, pkt);
		return false;
	}
	return true;
}

bool HostPipeline::nic_segment(Packet &pkt)
{
	enter(Stage::fastpath, pkt);
	StageContext ctx{host_, *fastpath_};
	switch (fastpath_->rx(host_, pkt)) {
	case FastRx::miss:
		if (pkt.fastpath_ticket_valid)
			pkt.step(Stage::fastpath, "miss", "the slow path decides, and its answer may be cached");
		break;
	case FastRx::ended:
		count_end(Stage::fastpath, pkt);
		return false;
	case FastRx::cached:
		deliver_from_cache(ctx, pkt);
		count_end(Stage::fastpath, pkt);
		return false;
	case FastRx::relookup:
		if (receive_beside_cached_socket(ctx, pkt))
			deliver(ctx, pkt);
		count_end(Stage::fastpath, pkt);
		return false;
	}
	const bool outer_fragment = pkt.parsed.outer_ip && pkt.parsed.outer_ip->is_fragment();
	return run(Stage::ip_rcv, ip_rcv, pkt) && (!outer_fragment || run(Stage::ip_defrag_host, ip_defrag_host, pkt)) &&
	       run(Stage::udp_rcv, udp_rcv, pkt) && run(Stage::vxlan_rcv, vxlan_rcv, pkt);
}

// A hit gives the socket's cookie: the socket-level receive runs on that socket, no lookup, and the
// frame is delivered there. For UDP the receive is the socket's own bookkeeping
// (__udp_queue_rcv_skb); TCP's runs the state machine on it (receive_on_cached_socket).
void HostPipeline::deliver_from_cache(StageContext &ctx, Packet &pkt)
{
	const std::string &name = host_.socket_name(pkt.socket);
	if (pkt.flow->protocol == model::Protocol::tcp) {
		if (!receive_on_cached_socket(ctx, pkt))
			return;
	} else {
		model::Sockets &sockets = host_.model().sockets();
		const int cpu = static_cast<int>(pkt.cpu);
		if (const model::Socket *socket = host_.udp_socket(pkt.socket))
			sockets.udp_received_on(*socket, cpu);
		else // not open in the model: an invalidation went missing, and the delivery shows it
			sockets.udp_received_on(name, cpu);
		pkt.step(Stage::socket_lookup, [&] { return "udp → " + name + " (cached, not looked up)"; },
			 "__udp_queue_rcv_skb on the socket the fast path gave");
	}
	pkt.deliver(name);
}

bool HostPipeline::gro_cell_segment(Packet &pkt)
{
	if (host_.routed() && host_.vxlan_device(pkt.vxlan)->bridge.empty())
		return routed_segment(pkt);
	return run(Stage::br_handle_frame, br_handle_frame, pkt) && run(Stage::veth_xmit, veth_xmit, pkt);
}

void HostPipeline::backlog_segment(Packet &pkt)
{
	const bool fragment = pkt.parsed.inner_ip && pkt.parsed.inner_ip->is_fragment();
	if (run(Stage::ip_rcv_container, ip_rcv_container, pkt) && (!fragment || run(Stage::ip_defrag, ip_defrag, pkt)) &&
	    run(Stage::socket_lookup, socket_lookup, pkt) && run(Stage::deliver, deliver, pkt))
		count_end(Stage::deliver, pkt);
}

void HostPipeline::complete_verdict(Packet &pkt)
{
	if (pkt.flow && !pkt.verdict.flow)
		pkt.verdict.flow = pkt.flow;
}

const Packet &HostPipeline::process(const CaptureFrame &frame, bool trace)
{
	host_.apply_events_until(frame.timestamp_ns, *fastpath_);
	host_.age_fdb_entries(frame.timestamp_ns, *fastpath_);
	if (arrive(frame, pkt_, trace) && nic_segment(pkt_) && gro_cell_segment(pkt_))
		backlog_segment(pkt_);
	complete_verdict(pkt_);
	return pkt_;
}

void HostPipeline::finish()
{
	host_.apply_remaining_events(*fastpath_);
}

void HostPipeline::summarize_defrag(std::ostream &out) const
{
	const model::DefragStats &s = host_.defrag().stats();
	if (s.held + s.reassembled + s.duplicates + s.overlaps + s.invalid == 0)
		return;
	out << "reassembly (ip_defrag): datagrams " << s.reassembled << ", fragments held " << s.held
	    << ", duplicates " << s.duplicates << ", overlaps " << s.overlaps << ", invalid " << s.invalid
	    << "; queues timed out " << s.timed_out << " (" << s.timed_out_fragments << " fragments), reset "
	    << s.resets << " (" << s.reset_fragments << " fragments), still open " << host_.defrag().queues() << "\n";
}

void HostPipeline::summarize_netfilter(std::ostream &out) const
{
	const model::Netfilter *nf = host_.model().netfilter();
	if (!nf)
		return;
	const model::Netfilter::Stats &s = nf->stats();
	out << "netfilter (host.netfilter): conntrack entries made " << s.created << ", expired " << s.expired
	    << ", left " << nf->entries() << "; packets INVALID " << s.invalid << ", dropped by FORWARD " << s.dropped
	    << ", not tracked (fragments, not UDP or TCP) " << s.not_modelled << "\n";
}

void HostPipeline::summarize_stages(std::ostream &out) const
{
	out << "per stage (frames in; where those that stopped there ended):\n";
	for (std::size_t i = 0; i < kStageCount; i++) {
		const StageCount &count = stage_counts_[i];
		if (count.entered == 0)
			continue;
		out << "  " << std::left << std::setw(17) << kStageNames[i] << std::right << std::setw(9) << count.entered;
		const char *sep = "  ";
		for (const auto &[why, n] : count.ended) {
			out << sep << why << " " << n;
			sep = ", ";
		}
		out << "\n";
	}
}

} // namespace econsim::sim
