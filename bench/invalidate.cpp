// bench/invalidate: what a socket close and a flush cost the fixed map (kernel-port/fpmap) and the
// original patch (sim/econ_map.h), with N entries spread over C simulated CPUs as RSS spreads
// flows.
//
//   close/<design>/entries:N/cpus:C/flows:k   closing one socket that has k flows
//   flush/<design>/entries:N/cpus:C           dropping every entry
//
// fixed: fpmap_sock_closed (a cookie-indexed unlink on each CPU) and fpmap_flush.
// econ:  EconMaps::remove_socket (every bucket of every CPU, both tables, and every entry before a
//        match: O(C x (1024 + N))) and EconMaps::remove_all, which (B4) deletes only the first
//        entry of each bucket; `entries_left` shows what it leaves behind.
//
// Only the close or flush is timed, with this thread's CPU clock (this machine is shared, so the
// wall clock also counts other people's work): each iteration closes a batch of sockets, then,
// untimed, inserts the closed sockets' flows again, so every close sees N entries give or take the
// batch (at most 1/16 of N). A flush iteration is timed on a map built afresh. The reported time
// is per close, or per flush. The fixed map frees nothing it unlinks (later inserts rewrite the
// entries in place), so the figure is all the work a close makes.
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#define _LGPL_SOURCE
#include <linux/rcupdate.h>

extern "C" {
#include <linux/smp.h>
}
#include "flows.h"

namespace {

using namespace econsim;
using namespace econsim::bench;

constexpr unsigned kFlowsPerBackgroundSocket = 16;

double thread_seconds()
{
	timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The NIC's indirection table picks the CPU (sim/stages/nic_rx.cpp: rss_cpu).
unsigned rss_cpu(std::uint32_t hash, unsigned cpus)
{
	return (hash % 128) % cpus;
}

struct Flow {
	Probe probe;
	std::uint64_t cookie;
	unsigned cpu;
};

// N flows: `batch` sockets of k flows each (the ones a close iteration closes), the rest held by
// background sockets of 16 flows each. Cookies count from 1, as sock_gen_cookie's do.
struct Population {
	std::vector<Flow> flows;
	std::vector<std::uint64_t> batch_cookies;
	std::vector<std::vector<std::size_t>> batch_flows; // indexes into flows, per batch socket

	Population(std::size_t n, unsigned cpus, unsigned k, std::size_t batch)
	{
		std::mt19937_64 rng(n * 31 + cpus * 7 + k);
		std::unordered_set<std::uint32_t> hashes;
		std::vector<std::uint64_t> owners;
		for (std::size_t b = 0; b < batch; b++)
			for (unsigned i = 0; i < k; i++)
				owners.push_back(b + 1);
		for (std::uint64_t i = 0; owners.size() < n; i++)
			owners.push_back(batch + 1 + i / kFlowsPerBackgroundSocket);
		std::shuffle(owners.begin(), owners.end(), rng); // sockets' flows arrive interleaved
		batch_flows.resize(batch);
		for (std::uint64_t cookie : owners) {
			Probe p{};
			do {
				p.key = random_flow(rng);
				p.hash = nic_hash(p.key);
			} while (!hashes.insert(p.hash).second);
			if (cookie <= batch)
				batch_flows[cookie - 1].push_back(flows.size());
			flows.push_back({p, cookie, rss_cpu(p.hash, cpus)});
		}
		for (std::size_t b = 0; b < batch; b++)
			batch_cookies.push_back(b + 1);
	}
};

// ---- the two designs ------------------------------------------------------------------------

class Fixed {
public:
	static constexpr const char *kName = "fixed";

	Fixed(const Population &pop, std::size_t n, unsigned cpus) : pop_(pop)
	{
		compat_set_nr_cpus(cpus); // no other map is alive: they share the simulated CPU count
		fpmap_config config{};
		config.entries_per_cpu = static_cast<unsigned>(n); // a CPU could receive every flow
		map_ = fpmap_create(&config);
		if (!map_)
			throw std::runtime_error("fpmap_create failed");
		for (std::size_t i = 0; i < pop.flows.size(); i++)
			insert(i);
	}
	~Fixed()
	{
		fpmap_destroy(map_);
		compat_set_cpu(0);
	}
	Fixed(const Fixed &) = delete;
	Fixed &operator=(const Fixed &) = delete;

	void close(std::uint64_t cookie) { fpmap_sock_closed(map_, cookie); }
	void flush() { fpmap_flush(map_); }
	// Nothing is deferred: the map frees nothing before it is destroyed.
	void settle() {}
	void reinsert(std::uint64_t, const std::vector<std::size_t> &flows)
	{
		for (std::size_t i : flows)
			insert(i);
	}
	std::size_t entries() const
	{
		std::size_t total = 0;
		for (unsigned cpu = 0; cpu < nr_cpu_ids; cpu++) {
			fpmap_stats s;
			fpmap_cpu_stats(map_, static_cast<int>(cpu), &s);
			total += s.entries;
		}
		return total;
	}
	std::uint64_t visited() const { return 0; }

private:
	void insert(std::size_t i)
	{
		const Flow &f = pop_.flows[i];
		compat_set_cpu(static_cast<int>(f.cpu));
		const fpmap_rx_dest d = dest_for(f.cookie);
		const fpmap_path path = path_for(d, i);
		fpmap_ticket ticket = fpmap_take_ticket(map_);
		if (fpmap_rx_insert(map_, &ticket, &f.probe.key, f.probe.hash, &d, &path))
			throw std::runtime_error("fpmap_rx_insert failed");
	}

	const Population &pop_;
	fpmap *map_;
};

class Econ {
public:
	static constexpr const char *kName = "econ";

	Econ(const Population &pop, std::size_t, unsigned cpus) : pop_(pop), maps_(cpus)
	{
		// Every hash is distinct, so hash_add is what econ_rx_insert would do, without its search.
		for (const Flow &f : pop.flows)
			maps_.rx().hash_add(f.cpu, {f.probe.hash, f.cookie, f.cookie % 40, econ_flow(f.probe.key)});
	}

	void close(std::uint64_t cookie) { visited_ += maps_.remove_socket(cookie).entries_visited; }
	void settle() {}
	void flush() { visited_ += maps_.remove_all(0).entries_visited; }
	void reinsert(std::uint64_t cookie, const std::vector<std::size_t> &flows)
	{
		// insert, not hash_add: B4 may have left some of the socket's entries in place.
		for (std::size_t i : flows) {
			const Flow &f = pop_.flows[i];
			maps_.rx().insert(f.cpu, 0, f.probe.hash, cookie, cookie % 40, econ_flow(f.probe.key));
		}
	}
	std::size_t entries() const { return maps_.size(); }
	std::uint64_t visited() const { return visited_; }

private:
	const Population &pop_;
	sim::EconMaps maps_;
	std::uint64_t visited_ = 0;
};

// ---- the benchmarks -------------------------------------------------------------------------

// Sockets closed per timed batch: enough to amortise the clock reads, few enough that N stays N.
std::size_t batch_for(std::size_t n, unsigned k)
{
	return std::clamp<std::size_t>(n / (16 * k), 1, 64);
}

// One population and map alive at a time, whichever benchmark made them: fixed maps of different
// CPU counts cannot coexist (they share the compat layer's CPU count), and 1M-entry maps are big.
struct Live {
	virtual ~Live() = default;
	std::string key;
};
template <typename D> struct LiveSetup : Live {
	std::unique_ptr<Population> pop; // declared first: the map refers to it, so goes first
	std::unique_ptr<D> design;
};
std::unique_ptr<Live> live;

template <typename D> LiveSetup<D> &setup(std::size_t n, unsigned cpus, unsigned k, std::size_t batch)
{
	const std::string key = std::string(D::kName) + "/" + std::to_string(n) + "/" + std::to_string(cpus) + "/" +
				std::to_string(k) + "/" + std::to_string(batch);
	if (!live || live->key != key) {
		live.reset();
		auto fresh = std::make_unique<LiveSetup<D>>();
		fresh->key = key;
		fresh->pop = std::make_unique<Population>(n, cpus, k, batch);
		fresh->design = std::make_unique<D>(*fresh->pop, n, cpus);
		live = std::move(fresh);
	}
	return static_cast<LiveSetup<D> &>(*live);
}

template <typename D> void close_socket(benchmark::State &state, std::size_t n, unsigned cpus, unsigned k)
{
	const std::size_t batch = batch_for(n, k);
	LiveSetup<D> &s = setup<D>(n, cpus, k, batch);
	D &d = *s.design;
	const Population &pop = *s.pop;
	const std::uint64_t visited_before = d.visited();
	for (auto _ : state) {
		const double start = thread_seconds();
		for (std::uint64_t cookie : pop.batch_cookies)
			d.close(cookie);
		state.SetIterationTime((thread_seconds() - start) / static_cast<double>(batch));
		d.settle();
		for (std::size_t b = 0; b < batch; b++)
			d.reinsert(pop.batch_cookies[b], pop.batch_flows[b]);
	}
	const double closes = static_cast<double>(state.iterations() * batch);
	state.counters["entries"] = static_cast<double>(d.entries());
	state.counters["batch"] = static_cast<double>(batch);
	if (d.visited())
		state.counters["entries_visited"] = static_cast<double>(d.visited() - visited_before) / closes;
}

template <typename D> void flush(benchmark::State &state, std::size_t n, unsigned cpus)
{
	live.reset();
	const Population pop(n, cpus, 1, 1);
	std::size_t left = 0;
	std::uint64_t visited = 0;
	for (auto _ : state) {
		auto d = std::make_unique<D>(pop, n, cpus);
		const double start = thread_seconds();
		d->flush();
		state.SetIterationTime(thread_seconds() - start);
		left = d->entries();
		visited = d->visited();
	}
	state.counters["entries"] = static_cast<double>(n);
	state.counters["entries_left"] = static_cast<double>(left);
	if (visited)
		state.counters["entries_visited"] = static_cast<double>(visited);
}

constexpr std::size_t kEntries[] = {1024, 1048576};
constexpr unsigned kCpus[] = {1, 2, 4};
constexpr unsigned kSocketFlows[] = {1, 16};

// Iterations fixed so the suite's length is known: a fixed iteration waits for an RCU grace
// period (about 10 ms here), and at N = 1M a batch of econ closes walks for tens of milliseconds.
std::int64_t close_iterations(const char *design, std::size_t n)
{
	if (std::string(design) == "fixed")
		return 200;
	return n < 65536 ? 2000 : 3;
}

template <typename D> void register_design()
{
	for (unsigned cpus : kCpus)
		for (unsigned k : kSocketFlows)
			for (std::size_t n : kEntries)
				benchmark::RegisterBenchmark(
					("close/" + std::string(D::kName) + "/entries:" + std::to_string(n) +
					 "/cpus:" + std::to_string(cpus) + "/flows:" + std::to_string(k))
						.c_str(),
					[n, cpus, k](benchmark::State &s) { close_socket<D>(s, n, cpus, k); })
					->UseManualTime()
					->Iterations(close_iterations(D::kName, n))
					->Unit(benchmark::kMicrosecond);
	for (unsigned cpus : kCpus)
		for (std::size_t n : kEntries)
			benchmark::RegisterBenchmark(("flush/" + std::string(D::kName) +
						      "/entries:" + std::to_string(n) + "/cpus:" + std::to_string(cpus))
							     .c_str(),
						     [n, cpus](benchmark::State &s) { flush<D>(s, n, cpus); })
				->UseManualTime()
				->Iterations(n < 65536 ? 200 : 4)
				->Unit(benchmark::kMicrosecond);
}

} // namespace

int main(int argc, char **argv)
{
	rcu_register_thread();
	register_design<Fixed>();
	register_design<Econ>();
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	live.reset();
	rcu_unregister_thread();
	return 0;
}
