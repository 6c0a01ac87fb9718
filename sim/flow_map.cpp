#include "flow_map.h"

#include <stdexcept>
#include <string>

#define _LGPL_SOURCE
#include <linux/rcupdate.h>

extern "C" {
#include <linux/slab.h>
#include <linux/smp.h>
}

namespace econsim::sim {

namespace {

unsigned live_maps;

// liburcu needs every reader thread registered once; the guard unregisters at thread exit.
struct RcuThreadRegistration {
	RcuThreadRegistration() { rcu_register_thread(); }
	~RcuThreadRegistration() { rcu_unregister_thread(); }
};

void register_this_thread()
{
	thread_local RcuThreadRegistration registration;
	(void)registration;
}

} // namespace

FlowMap::FlowMap(unsigned cpus, unsigned entries_per_cpu) : cpus_(cpus)
{
	if (cpus == 0)
		throw std::invalid_argument("flow map: at least one CPU");
	if (live_maps == 0)
		compat_set_nr_cpus(cpus);
	else if (nr_cpu_ids != cpus)
		throw std::invalid_argument("flow map: every live map must have " +
					    std::to_string(nr_cpu_ids) + " CPUs");
	register_this_thread();
	fpmap_config config{};
	config.entries_per_cpu = entries_per_cpu;
	map_ = fpmap_create(&config);
	if (!map_)
		throw std::invalid_argument("flow map: cannot create a map of " +
					    std::to_string(entries_per_cpu) + " entries per CPU");
	live_maps++;
}

FlowMap::~FlowMap()
{
	fpmap_destroy(map_);
	live_maps--;
}

void FlowMap::enter_cpu(unsigned cpu) const
{
	if (cpu >= cpus_)
		throw std::out_of_range("flow map: CPU " + std::to_string(cpu) + " of " +
					std::to_string(cpus_));
	register_this_thread();
	compat_set_cpu(static_cast<int>(cpu));
}

std::optional<fpmap_rx_dest> FlowMap::rx_lookup(unsigned cpu, const fpmap_flow &flow, uint32_t hash,
						fpmap_ticket &ticket)
{
	enter_cpu(cpu);
	fpmap_rx_dest dest;
	if (!fpmap_rx_lookup(map_, &flow, hash, &dest, &ticket))
		return std::nullopt;
	return dest;
}

fpmap_ticket FlowMap::take_ticket(unsigned cpu)
{
	enter_cpu(cpu);
	return fpmap_take_ticket(map_);
}

int FlowMap::rx_insert(unsigned cpu, const fpmap_ticket &ticket, const fpmap_flow &flow, uint32_t hash,
		       const fpmap_rx_dest &dest, const fpmap_path &path)
{
	enter_cpu(cpu);
	return fpmap_rx_insert(map_, &ticket, &flow, hash, &dest, &path);
}

std::optional<fpmap_tx_template> FlowMap::tx_lookup(unsigned cpu, const fpmap_flow &flow,
						    uint32_t hash, uint64_t sock_cookie,
						    fpmap_ticket &ticket)
{
	enter_cpu(cpu);
	fpmap_tx_template tmpl;
	if (!fpmap_tx_lookup(map_, &flow, hash, sock_cookie, &tmpl, &ticket))
		return std::nullopt;
	return tmpl;
}

int FlowMap::tx_insert(unsigned cpu, const fpmap_ticket &ticket, const fpmap_flow &flow, uint32_t hash,
		       uint64_t sock_cookie, const fpmap_tx_template &tmpl, const fpmap_path &path)
{
	enter_cpu(cpu);
	return fpmap_tx_insert(map_, &ticket, &flow, hash, sock_cookie, &tmpl, &path);
}

fpmap_stats FlowMap::cpu_stats(unsigned cpu) const
{
	fpmap_stats stats;
	fpmap_cpu_stats(map_, static_cast<int>(cpu), &stats);
	return stats;
}

fpmap_stats FlowMap::total_stats() const
{
	fpmap_stats total{};
	for (unsigned cpu = 0; cpu < cpus_; cpu++) {
		const fpmap_stats s = cpu_stats(cpu);
		fpmap_stats_add(&total, &s);
	}
	return total;
}

long FlowMap::live_allocations()
{
	rcu_barrier();
	return compat_live_allocations();
}

} // namespace econsim::sim
