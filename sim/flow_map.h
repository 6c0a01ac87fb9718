// The kernel-port flow map seen from C++: ownership, simulated CPUs and RCU
// thread registration handled here, so the simulator's stages stay plain.
#pragma once

#include <cstdint>
#include <optional>

#include "fpmap.h"

namespace econsim::sim {

class FlowMap {
public:
	// All live maps share one simulated CPU count (the compat layer's nr_cpu_ids).
	FlowMap(unsigned cpus, unsigned entries_per_cpu);
	~FlowMap();
	FlowMap(const FlowMap &) = delete;
	FlowMap &operator=(const FlowMap &) = delete;

	// A lookup always hands out a ticket, to be given back by the insert that
	// caches the slow path's answer for this packet. `cpu` is the simulated CPU
	// the call runs on; an insert fills the table of the CPU its ticket names (the
	// lookup's), which with RPS is not the socket's (issue 13, defect 7).
	std::optional<fpmap_rx_dest> rx_lookup(unsigned cpu, const fpmap_flow &flow, uint32_t hash,
					       fpmap_ticket &ticket);
	// A ticket as of now, for the lookup that ran on `cpu`.
	fpmap_ticket take_ticket(unsigned cpu);
	int rx_insert(unsigned cpu, const fpmap_ticket &ticket, const fpmap_flow &flow, uint32_t hash,
		      const fpmap_rx_dest &dest, const fpmap_path &path);
	std::optional<fpmap_tx_template> tx_lookup(unsigned cpu, const fpmap_flow &flow,
						   uint32_t hash, uint64_t sock_cookie,
						   fpmap_ticket &ticket);
	int tx_insert(unsigned cpu, const fpmap_ticket &ticket, const fpmap_flow &flow, uint32_t hash,
		      uint64_t sock_cookie, const fpmap_tx_template &tmpl, const fpmap_path &path);

	// Events run on simulated CPU 0: each CPU counts the events it ran, so the caller's CPU
	// must be one of this map's (a thread may still name a CPU of a bigger map made before).
	void sock_closed(uint64_t sock_cookie)
	{
		enter_cpu(0);
		fpmap_sock_closed(map_, sock_cookie);
	}
	void sock_rebound(uint32_t netns, uint8_t proto, uint16_t port)
	{
		enter_cpu(0);
		fpmap_sock_rebound(map_, netns, proto, port);
	}
	void dev_event(const fpmap_dev &dev, fpmap_event event)
	{
		enter_cpu(0);
		fpmap_dev_event(map_, &dev, event);
	}
	void netns_exit(uint32_t netns)
	{
		enter_cpu(0);
		fpmap_netns_exit(map_, netns);
	}
	void flush()
	{
		enter_cpu(0);
		fpmap_flush(map_);
	}

	fpmap_stats cpu_stats(unsigned cpu) const;
	fpmap_stats total_stats() const;
	uint64_t event_count(fpmap_event event) const { return fpmap_event_count(map_, event); }
	bool has_cookie(uint64_t sock_cookie) const { return fpmap_has_cookie(map_, sock_cookie); }
	unsigned buckets_per_cpu() const { return fpmap_buckets_per_cpu(map_); }
	unsigned cpus() const { return cpus_; }

	// Allocations the compat slab holds now, across all maps: zero after the last map is gone.
	static long live_allocations();

private:
	void enter_cpu(unsigned cpu) const;

	fpmap *map_;
	unsigned cpus_;
};

} // namespace econsim::sim
