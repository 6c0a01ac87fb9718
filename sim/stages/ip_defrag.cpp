// ip_local_deliver → ip_defrag (IP_DEFRAG_LOCAL_DELIVER) for an inner fragment, in the container's
// namespace: the model's reassembly queues (model/ip_defrag.h) decide; this stage gives the verdict.
// A fragment that leaves its datagram incomplete is held; the one that completes it goes on as the
// whole datagram, with the first fragment's transport header; a duplicate is dropped alone, an
// overlap or a contradicting length with its queue.
#include "stages.h"

namespace econsim::sim {

namespace {

model::TransportStart transport_start(const ParsedFrame &f)
{
	model::TransportStart start;
	if (f.inner_ip->fragment_offset == 0 && f.inner_l4 && f.inner_l4->has_ports()) {
		start.source_port = f.inner_l4->src_port;
		start.destination_port = f.inner_l4->dst_port;
		start.udp_length = static_cast<std::uint32_t>(f.inner_l4->udp_length);
		start.tcp_flags = f.inner_l4->tcp_flags;
	}
	return start;
}

const char *drop_reason(model::DefragResult result)
{
	switch (result) {
	case model::DefragResult::duplicate: return "fragment_duplicate";
	case model::DefragResult::overlap: return "fragment_overlap";
	default: return "fragment_invalid";
	}
}

} // namespace

model::Fragment fragment_of(std::string_view ns, const Ipv4Header &ip, std::int64_t now_ns)
{
	return model::Fragment{
		.key = {std::string(ns), ip.src, ip.dst, ip.id, ip.protocol, 0},
		.offset = ip.fragment_offset,
		.length = static_cast<std::uint32_t>(ip.payload_length()),
		.header_length = static_cast<std::uint32_t>(ip.header_length),
		.more_fragments = ip.more_fragments,
		.tos = ip.tos,
		.now_ns = now_ns,
	};
}

bool defrag_completes(Stage stage, Packet &pkt, const model::Fragment &fragment, const model::DefragAnswer &answer)
{
	pkt.verdict.path = Path::slow;
	auto where = [&] {
		return "id " + std::to_string(fragment.key.id) + ", bytes " + std::to_string(fragment.offset) + "-" +
		       std::to_string(fragment.offset + fragment.length) + (fragment.more_fragments ? ", MF" : ", last") +
		       (answer.queue_reset ? "; its queue was reset first (ip_frag_too_far)" : "");
	};
	switch (answer.result) {
	case model::DefragResult::held:
		pkt.hold(stage, [&] { return where() + ": queued (ip_frag_queue)"; });
		return false;
	case model::DefragResult::duplicate:
	case model::DefragResult::overlap:
	case model::DefragResult::invalid:
		pkt.drop(stage, drop_reason(answer.result),
			 [&] { return where() + ": " + model::to_string(answer.result) + " (ip_frag_queue)"; });
		return false;
	case model::DefragResult::complete:
		break;
	}
	pkt.step(stage, [&] { return "reassembled from " + std::to_string(answer.fragments) + " fragments"; },
		 [&] { return where() + ": the datagram is whole, " + std::to_string(answer.datagram_length) + " bytes (ip_frag_reasm)"; });
	return true;
}

bool ip_defrag(StageContext &ctx, Packet &pkt)
{
	const Ipv4Header &ip = *pkt.parsed.inner_ip;
	model::Fragment fragment = fragment_of(ctx.host.namespace_name(pkt.netns), ip, pkt.ts_ns);
	fragment.transport = transport_start(pkt.parsed);
	const model::DefragAnswer answer = ctx.host.defrag().add(fragment);
	if (!defrag_completes(Stage::ip_defrag, pkt, fragment, answer))
		return false;
	const model::TransportStart &l4 = answer.transport;
	if (ip.protocol != kIpProtoUdp && ip.protocol != kIpProtoTcp) {
		pkt.ignore(Stage::ip_defrag, "not_tcp_udp",
			   [&] { return "reassembled IP protocol " + std::to_string(ip.protocol) + " is the kernel's own"; });
		return false;
	}
	// __udp4_lib_rcv: a UDP length past the datagram (or below the header) is a short packet.
	if (ip.protocol == kIpProtoUdp && (l4.udp_length < 8 || l4.udp_length > answer.datagram_length)) {
		pkt.drop(Stage::ip_defrag, reason_name(ParseReason::inner_bad_udp_length),
			 [&] { return "reassembled: UDP length " + std::to_string(l4.udp_length) + " of " +
				      std::to_string(answer.datagram_length) + " bytes"; });
		return false;
	}
	TransportHeader header;
	header.protocol = ip.protocol;
	header.header_length = ip.protocol == kIpProtoUdp ? 8 : 20;
	header.src_port = l4.source_port;
	header.dst_port = l4.destination_port;
	header.udp_length = l4.udp_length;
	header.tcp_flags = l4.tcp_flags;
	pkt.reassembled_l4 = header;
	pkt.flow = model::FiveTuple{
		ip.protocol == kIpProtoUdp ? model::Protocol::udp : model::Protocol::tcp,
		{{ip.src, l4.source_port}, {ip.dst, l4.destination_port}}};
	return true;
}

} // namespace econsim::sim
