// NIC receive: the frame as the host's physical NIC sees it. The capture holds both directions,
// so this first says which way the frame went, then does what the NIC does for a received one:
// an RSS hash over the outer headers and the CPU the indirection table maps it to.
#include "stages.h"

#include "../rss_hash.h"
#include "model/topology.h"

namespace econsim::sim {

unsigned rss_cpu(std::uint32_t hash, unsigned cpus)
{
	constexpr std::uint32_t kIndirectionSlots = 128;
	return (hash % kIndirectionSlots) % cpus;
}

namespace {

Direction direction_of(const Scenario &scenario, const ParsedFrame &f)
{
	const Nic &nic = scenario.host.nic;
	if (f.outer_ip) {
		if (f.outer_ip->dst == nic.ip.address)
			return Direction::rx;
		if (f.outer_ip->src == nic.ip.address)
			return Direction::tx;
	}
	if (f.link && f.link->src && *f.link->src == nic.mac)
		return Direction::tx;
	if (f.link && f.link->dst && (*f.link->dst == nic.mac || f.link->dst->is_multicast()))
		return Direction::rx;
	return Direction::other;
}

std::uint32_t outer_hash(RssMode mode, const ParsedFrame &f)
{
	if (!f.outer_ip || mode == RssMode::none)
		return 0;
	// NICs hash L4 ports only for unfragmented TCP and UDP (the L4 RSS types).
	if (mode == RssMode::l4 && f.outer_l4 && f.outer_l4->has_ports() && !f.outer_ip->is_fragment())
		return rss_hash_l4({f.outer_ip->src, f.outer_l4->src_port}, {f.outer_ip->dst, f.outer_l4->dst_port});
	return rss_hash_l3(f.outer_ip->src, f.outer_ip->dst);
}

} // namespace

bool nic_rx(StageContext &ctx, Packet &pkt)
{
	const Scenario &scenario = ctx.host.scenario();
	const ParsedFrame &f = pkt.parsed;
	pkt.dir = direction_of(scenario, f);
	pkt.verdict.dir = pkt.dir;
	pkt.ns = kHostNamespace;

	if (f.reason == ParseReason::unsupported_link_type || f.reason == ParseReason::truncated_ethernet) {
		pkt.ignore(Stage::nic_rx, reason_name(f.reason), reason_description(f.reason));
		return false;
	}
	if (pkt.dir == Direction::other) {
		pkt.ignore(Stage::nic_rx, "not_for_host", [&] { return "neither addressed to nor sent by " + scenario.host.nic.name; });
		return false;
	}
	if (pkt.dir == Direction::tx) {
		pkt.step(Stage::nic_rx, [&] { return "transmitted by " + scenario.host.nic.name; });
		return true;
	}
	// A NIC that is down passes nothing up: dev_close → __dev_close_many clears netif_running and
	// calls ndo_stop, which disables the NIC's NAPI instances (net/core/dev.c, 6.1), so no frame
	// reaches mlx5e_handle_rx_cqe, let alone a protocol or the fast path's hook.
	if (const model::Device *nic = ctx.host.nic(); !nic || !nic->admin_up) { // is_up(nic.name)
		pkt.drop(Stage::nic_rx, "device_down", [&] { return scenario.host.nic.name + " is down"; });
		return false;
	}
	pkt.rss_hash = outer_hash(scenario.host.rss, f);
	pkt.cpu = rss_cpu(pkt.rss_hash, static_cast<unsigned>(scenario.host.cpus));
	pkt.verdict.cpu = pkt.cpu;
	pkt.step(Stage::nic_rx, [&] { return "received on CPU " + std::to_string(pkt.cpu); },
		 [&] { return "rss " + std::string(to_string(scenario.host.rss)) + " hash " + hex32(pkt.rss_hash); });
	return true;
}

} // namespace econsim::sim
