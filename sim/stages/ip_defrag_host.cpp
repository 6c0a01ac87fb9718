// ip_local_deliver → ip_defrag(net, skb, IP_DEFRAG_LOCAL_DELIVER) in the host namespace, for an
// outer IPv4 fragment (6.1 net/ipv4/ip_input.c, ip_fragment.c): a VXLAN datagram longer than the
// sender's underlay MTU arrives in pieces, and the host reassembles it before __udp4_lib_rcv, so
// UDP and vxlan_rcv see one datagram. The model's queues (model/ip_defrag.h, keyed by saddr, daddr,
// id, protocol and vif in the host namespace) decide; the earlier fragments are held, the one that
// completes the datagram goes on as the whole: its frame is rebuilt from the capture's link header
// and the reassembled bytes, and parsed again, so every later stage reads the datagram.
#include "stages.h"

#include <limits>

namespace econsim::sim {

bool ip_defrag_host(StageContext &ctx, Packet &pkt)
{
	const ParsedFrame &f = pkt.parsed;
	const Ipv4Header &ip = *f.outer_ip;
	model::Fragment fragment = fragment_of(kHostNamespace, ip, pkt.ts_ns);
	fragment.bytes = f.bytes.subspan(ip.offset, ip.total_length);
	model::DefragAnswer answer = ctx.host.defrag().add(fragment);
	if (!defrag_completes(Stage::ip_defrag_host, pkt, fragment, answer))
		return false;

	// The link header is the completing fragment's (ip_frag_reasm keeps the head's mac header,
	// which no later stage reads: eth_type_trans ran on every fragment).
	const std::size_t link_length = f.link->offset + f.link->length;
	std::vector<std::uint8_t> frame(f.bytes.begin(), f.bytes.begin() + static_cast<std::ptrdiff_t>(link_length));
	frame.insert(frame.end(), answer.datagram.begin(), answer.datagram.end());
	pkt.reassembled_frame = std::move(frame);
	pkt.outer_reassembled = true;
	// A reassembled datagram is longer than the NIC's MTU by nature: no gso_oversize note for it.
	ParserConfig config = parser_config(ctx.host.scenario());
	config.mtu = std::numeric_limits<std::size_t>::max() / 2;
	const int link_type = f.link->link_type;
	pkt.parsed = parse_frame(pkt.reassembled_frame, pkt.reassembled_frame.size(), link_type, config);
	const ParsedFrame &whole = pkt.parsed;
	if (!whole.outer_ip) {
		pkt.drop(Stage::ip_defrag_host, reason_name(whole.reason), reason_description(whole.reason));
		return false;
	}
	// The rest of ip_local_deliver's way to a protocol, now on the whole datagram.
	return ip_local_deliver(ctx, pkt,
				{.stage = Stage::ip_defrag_host, .level = "outer", .ns = kHostNamespace, .ip = *whole.outer_ip,
				 .l4 = whole.outer_l4, .reassembles = false});
}

} // namespace econsim::sim
