// ip_rcv_core, ip_route_input_noref and ip_local_deliver for the outer packet, in the host
// namespace: the header checks, then whether the destination is one of the host's addresses (a
// fragment goes on to ip_defrag_host).
#include "stages.h"

namespace econsim::sim {

bool ip_rcv(StageContext &ctx, Packet &pkt)
{
	const ParsedFrame &f = pkt.parsed;
	if (!f.outer_ip) {
		if (f.reason == ParseReason::not_ipv4) {
			// ARP, IPv6: the host's own protocols take them, no socket does.
			pkt.ignore(Stage::ip_rcv, "not_ipv4", "ethertype is not IPv4");
			return false;
		}
		pkt.drop(Stage::ip_rcv, reason_name(f.reason), reason_description(f.reason));
		return false;
	}
	// ip_rcv_core's header checks (IPSTATS_MIB_INHDRERRORS, _INTRUNCATEDPKTS).
	for (ParseReason r : {ParseReason::snapped, ParseReason::bad_ip_version, ParseReason::bad_ihl,
			      ParseReason::bad_ip_length, ParseReason::ip_truncated, ParseReason::bad_ip_checksum}) {
		if (f.has(r)) {
			pkt.drop(Stage::ip_rcv, reason_name(r), reason_description(r));
			return false;
		}
	}
	if (f.has(ParseReason::vlan_tagged)) {
		pkt.drop(Stage::ip_rcv, "vlan_tagged", reason_description(ParseReason::vlan_tagged));
		return false;
	}
	if (!nf_nat_prerouting(ctx, pkt, Stage::ip_rcv, *f.outer_ip, f.outer_l4))
		return false;
	if (!ip_local_deliver(ctx, pkt,
			      {.stage = Stage::ip_rcv, .level = "outer", .ns = kHostNamespace, .ip = *f.outer_ip,
			       .l4 = f.outer_l4, .reassembles = true}))
		return false;
	if (f.outer_ip->is_fragment()) {
		pkt.step(Stage::ip_rcv, "local delivery: a fragment", "ip_local_deliver hands it to ip_defrag first");
		return true;
	}
	pkt.step(Stage::ip_rcv, "local delivery", [&] { return to_string(f.outer_ip->dst) + " is the host's"; });
	return true;
}

} // namespace econsim::sim
