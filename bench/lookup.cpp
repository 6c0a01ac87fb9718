// bench/lookup: what one RX flow lookup costs, hit and miss, against the number of flows, for the
// kernel-port map and its alternatives, all over the same keys (struct fpmap_flow: inner 5-tuple
// + VNI + namespace) in the same run; and the vanilla slow path's UDP socket lookup (model/), the
// work a hit saves.
//
// Every structure holds N flows, all on one CPU (the per-CPU table a lookup sees). Lookups follow
// a precomputed random permutation of the keys, cycled; "hit:90" replaces a random 10% of them by
// keys that are absent, "hit:0" looks up absent keys only (the cost of a miss). Counters: ns per
// lookup is the benchmark's time (read the CPU column: this machine is shared); `bytes` is the
// heap the structure holds (malloc's count before and after building it); `hit_ratio` what was
// found; `allocs_per_lookup` (socket lookup) the operator new calls its loop made.
//
// The fixed map and ECON get the NIC's hash with the key (skb->hash: the kernel has it for free);
// absl, std and boost hash the key themselves, as they would in a program.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>
#include <boost/intrusive/unordered_set.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#define _LGPL_SOURCE
#include <urcu.h>

extern "C" {
#include <linux/slab.h>
#include <linux/smp.h>
}
#include "flows.h"
#include "model/host.h"

// Every operator new of the program counted, so that a benchmark can say how many allocations its
// loop made (the socket lookup must make none). Deletes go to free() as the defaults do.
static std::atomic<std::uint64_t> g_allocations{0};

void *operator new(std::size_t size)
{
	g_allocations.fetch_add(1, std::memory_order_relaxed);
	if (void *p = std::malloc(size ? size : 1))
		return p;
	throw std::bad_alloc();
}
void *operator new[](std::size_t size)
{
	return operator new(size);
}
// The replaced new allocates with malloc, so free is the matching release; GCC, seeing a new's
// pointer reach free once these are inlined, would warn.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void *p) noexcept
{
	std::free(p);
}
void operator delete(void *p, std::size_t) noexcept
{
	std::free(p);
}
void operator delete[](void *p) noexcept
{
	std::free(p);
}
void operator delete[](void *p, std::size_t) noexcept
{
	std::free(p);
}
#pragma GCC diagnostic pop

namespace {

// ---- keys -----------------------------------------------------------------------------------

using namespace econsim;
using namespace econsim::bench;

// The keys of one flow count: N present, and the two lookup streams over them.
struct Keys {
	std::vector<Probe> present;
	std::vector<Probe> all_hits;  // permutations of `present`, concatenated
	std::vector<Probe> some_miss; // the same with a random 10% replaced by absent keys
	std::vector<Probe> all_miss;  // absent keys only
};

// Every hash distinct, present and absent: so ECON, which keys on the hash alone, holds every
// flow, and a miss is a miss for every structure.
std::unique_ptr<Keys> make_keys(std::size_t n)
{
	auto keys = std::make_unique<Keys>();
	std::mt19937_64 rng(n * 0x9E3779B97F4A7C15ull + 7);
	std::unordered_set<std::uint32_t> hashes;
	auto fresh = [&] {
		for (;;) {
			Probe p{random_flow(rng), 0};
			p.hash = nic_hash(p.key);
			if (hashes.insert(p.hash).second)
				return p;
		}
	};
	keys->present.reserve(n);
	for (std::size_t i = 0; i < n; i++)
		keys->present.push_back(fresh());

	const std::size_t length = std::max<std::size_t>(n, 1 << 16);
	keys->all_hits.reserve(length);
	std::vector<std::size_t> order(n);
	while (keys->all_hits.size() < length) {
		for (std::size_t i = 0; i < n; i++)
			order[i] = i;
		std::shuffle(order.begin(), order.end(), rng);
		for (std::size_t i : order)
			keys->all_hits.push_back(keys->present[i]);
	}
	keys->some_miss = keys->all_hits;
	for (Probe &p : keys->some_miss)
		if (rng() % 10 == 0)
			p = fresh();
	keys->all_miss.reserve(length);
	while (keys->all_miss.size() < length)
		keys->all_miss.push_back(fresh());
	return keys;
}

const Keys &keys_for(std::size_t n)
{
	static std::map<std::size_t, std::unique_ptr<Keys>> cache;
	auto &slot = cache[n];
	if (!slot)
		slot = make_keys(n);
	return *slot;
}

// Heap bytes in use now: malloc's arenas plus its mmapped chunks, and the bytes asked for of the
// blocks kernel-port's compat slab gives out from its own arena (the map's chunks, bucket arrays
// and directories: what the kernel's kmalloc gives for a chunk's power of two, without the 64-byte
// header compat keeps in front of each, which at 64 entries a chunk would add 1.5 bytes a flow).
std::size_t heap_in_use()
{
	struct mallinfo2 m = mallinfo2();
	return m.uordblks + m.hblkhd + compat_arena_in_use();
}

// ---- the structures -------------------------------------------------------------------------

// kernel-port/fpmap, through its C API as the kernel patch calls it: RX table, one CPU.
class Fixed {
public:
	static constexpr const char *kName = "fixed";
	explicit Fixed(const std::vector<Probe> &flows)
	{
		fpmap_config config{};
		config.entries_per_cpu = static_cast<unsigned>(flows.size());
		map_ = fpmap_create(&config);
		if (!map_)
			throw std::runtime_error("fpmap_create failed");
		for (std::size_t i = 0; i < flows.size(); i++) {
			const fpmap_rx_dest d = dest_for(i + 1);
			const fpmap_path path = path_for(d, i);
			fpmap_ticket ticket = fpmap_take_ticket(map_);
			if (fpmap_rx_insert(map_, &ticket, &flows[i].key, flows[i].hash, &d, &path))
				throw std::runtime_error("fpmap_rx_insert failed");
		}
	}
	~Fixed() { fpmap_destroy(map_); }
	Fixed(const Fixed &) = delete;
	Fixed &operator=(const Fixed &) = delete;

	bool find(const Probe &p, fpmap_rx_dest &out) const
	{
		fpmap_ticket ticket;
		return fpmap_rx_lookup(map_, &p.key, p.hash, &out, &ticket);
	}

private:
	fpmap *map_;
};

// The original patch's layout as the simulator keeps it (sim/econ_map.h): 1024 buckets per CPU,
// keyed by the hash, the first entry with the key decides, then its 5-tuple is compared. Each
// chain is one vector, so a walk reads contiguous memory.
class Econ {
public:
	static constexpr const char *kName = "econ";
	explicit Econ(const std::vector<Probe> &flows) : map_(1)
	{
		for (std::size_t i = 0; i < flows.size(); i++) {
			const fpmap_rx_dest d = dest_for(i + 1);
			map_.insert(0, 0, flows[i].hash, d.sock_cookie, d.dev.netns, econ_flow(flows[i].key));
		}
	}
	bool find(const Probe &p, fpmap_rx_dest &out) const
	{
		econsim::sim::EconRxLookup r = map_.lookup(0, p.hash, econ_flow(p.key));
		out.sock_cookie = r.socket;
		out.sock_netns = static_cast<std::uint32_t>(r.device);
		return r.hit();
	}

private:
	econsim::sim::EconRxMap map_;
};

// The same rule over the kernel's own layout: hlist chains of kmalloc-64 objects (struct
// econ_rx_entry, 56 bytes), newest at the head, so each step of a walk is a dependent load from
// wherever the node was allocated. This is what the patch's lookup costs in the kernel.
class EconHlist {
public:
	static constexpr const char *kName = "econ_hlist";
	explicit EconHlist(const std::vector<Probe> &flows)
	{
		for (std::size_t i = 0; i < flows.size(); i++) {
			const fpmap_rx_dest d = dest_for(i + 1);
			Node *n = new Node{heads_[econsim::sim::econ_bucket(flows[i].hash)], flows[i].hash,
					   d.sock_cookie, d.dev.netns, econ_flow(flows[i].key)};
			heads_[econsim::sim::econ_bucket(flows[i].hash)] = n;
		}
	}
	~EconHlist()
	{
		for (Node *head : heads_)
			while (head) {
				Node *next = head->next;
				delete head;
				head = next;
			}
	}
	EconHlist(const EconHlist &) = delete;
	EconHlist &operator=(const EconHlist &) = delete;

	bool find(const Probe &p, fpmap_rx_dest &out) const
	{
		for (const Node *n = heads_[econsim::sim::econ_bucket(p.hash)]; n; n = n->next) {
			if (n->key != p.hash)
				continue;
			if (!(n->flow == econ_flow(p.key)))
				return false;
			out.sock_cookie = n->sk;
			out.sock_netns = static_cast<std::uint32_t>(n->dev);
			return true;
		}
		return false;
	}

private:
	struct Node {
		Node *next;
		std::uint32_t key;
		std::uint64_t sk;
		std::uint64_t dev;
		sim::EconFlow flow;
		void *pprev_unused = nullptr; // hlist_node's pprev: keeps the object the kernel's size
	};
	static_assert(sizeof(Node) == econsim::sim::EconRxEntry::kObjectBytes);
	Node *heads_[econsim::sim::kEconMapSize] = {};
};

struct AbslFlowHash {
	std::size_t operator()(const fpmap_flow &k) const
	{
		return absl::HashOf(k.saddr, k.daddr, k.sport, k.dport, k.proto, k.vni, k.netns);
	}
};

// Generic maps keyed by the flow, value the same RX destination.
template <typename Map> class Generic {
public:
	explicit Generic(const std::vector<Probe> &flows)
	{
		map_.reserve(flows.size());
		for (std::size_t i = 0; i < flows.size(); i++)
			map_.emplace(flows[i].key, dest_for(i + 1));
	}
	bool find(const Probe &p, fpmap_rx_dest &out) const
	{
		auto it = map_.find(p.key);
		if (it == map_.end())
			return false;
		out = it->second;
		return true;
	}

private:
	Map map_;
};

struct Absl : Generic<absl::flat_hash_map<fpmap_flow, fpmap_rx_dest, AbslFlowHash, FlowEq>> {
	static constexpr const char *kName = "absl_flat_hash_map";
	using Generic::Generic;
};

struct Std : Generic<std::unordered_map<fpmap_flow, fpmap_rx_dest, FlowMix, FlowEq>> {
	static constexpr const char *kName = "std_unordered_map";
	using Generic::Generic;
};

// boost::intrusive::unordered_set: nodes in one array, a power-of-two bucket array sized to the
// flow count (load factor <= 1, as the fixed map's), hashes stored in the nodes.
class Boost {
public:
	static constexpr const char *kName = "boost_intrusive";
	explicit Boost(const std::vector<Probe> &flows)
		: nodes_(new Node[flows.size()]), buckets_(std::bit_ceil(std::max<std::size_t>(flows.size(), 16))),
		  set_(Set::bucket_traits(buckets_.data(), buckets_.size()))
	{
		for (std::size_t i = 0; i < flows.size(); i++) {
			nodes_[i].key = flows[i].key;
			nodes_[i].value = dest_for(i + 1);
			set_.insert(nodes_[i]);
		}
	}
	~Boost() { set_.clear(); }
	Boost(const Boost &) = delete;
	Boost &operator=(const Boost &) = delete;

	bool find(const Probe &p, fpmap_rx_dest &out) const
	{
		auto it = set_.find(p.key);
		if (it == set_.end())
			return false;
		out = it->value;
		return true;
	}

private:
	struct Node : boost::intrusive::unordered_set_base_hook<boost::intrusive::store_hash<true>> {
		fpmap_flow key;
		fpmap_rx_dest value;
	};
	struct KeyOf {
		using type = fpmap_flow;
		const type &operator()(const Node &n) const { return n.key; }
	};
	using Set = boost::intrusive::unordered_set<Node, boost::intrusive::key_of_value<KeyOf>,
						    boost::intrusive::hash<FlowMix>, boost::intrusive::equal<FlowEq>,
						    boost::intrusive::power_2_buckets<true>,
						    boost::intrusive::store_hash<true>>;

	std::unique_ptr<Node[]> nodes_;
	std::vector<Set::bucket_type> buckets_;
	Set set_;
};

// ---- the benchmarks -------------------------------------------------------------------------

template <typename S> struct Built {
	std::unique_ptr<S> structure;
	std::size_t bytes = 0;
};

// Each structure is built once per flow count and kept, so that repetitions interleave freely.
template <typename S> const Built<S> &built(std::size_t n)
{
	static std::map<std::size_t, Built<S>> cache;
	Built<S> &b = cache[n];
	if (!b.structure) {
		const Keys &keys = keys_for(n);
		std::size_t before = heap_in_use();
		b.structure = std::make_unique<S>(keys.present);
		b.bytes = heap_in_use() - before;
	}
	return b;
}

template <typename S> void lookup(benchmark::State &state, std::size_t n, int hit_percent)
{
	const Built<S> &b = built<S>(n);
	const S &s = *b.structure;
	const Keys &keys = keys_for(n);
	const std::vector<Probe> &stream = hit_percent == 100 ? keys.all_hits
					   : hit_percent == 0 ? keys.all_miss
							      : keys.some_miss;
	const Probe *probe = stream.data();
	const Probe *end = probe + stream.size();
	std::uint64_t hits = 0;
	fpmap_rx_dest out{};
	for (auto _ : state) {
		hits += s.find(*probe, out);
		benchmark::DoNotOptimize(out);
		if (++probe == end)
			probe = stream.data();
	}
	state.counters["flows"] = static_cast<double>(n);
	state.counters["bytes"] = static_cast<double>(b.bytes);
	state.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
}

// ---- the slow path's socket lookup ----------------------------------------------------------

namespace model = econsim::model;

constexpr int kContainers = 40;

std::string container(int c)
{
	return "c" + std::to_string(c);
}
model::Ipv4Address container_address(int c)
{
	return model::ipv4(10, 233, 1, static_cast<std::uint8_t>(2 + c));
}

void must(model::Error e, const std::string &what)
{
	if (e != model::Error::none)
		throw std::runtime_error("socket table: " + what + " refused: " + model::to_string(e));
}

// 40 containers (namespaces), 8 UDP sockets each: six on 0.0.0.0:5000-5005, one on the
// container's address port 53, one connected from port 7000 to a peer.
struct SocketTable {
	model::Host host;
	struct Query {
		std::string ns;
		model::FourTuple packet;
	};
	std::vector<Query> all_hits, some_miss;

	SocketTable()
	{
		must(host.add_nic("eth0", model::mac(2, 0, 0, 0, 0, 2), {model::ipv4(192, 168, 0, 2), 24}), "nic");
		must(host.add_bridge("br0"), "bridge");
		auto &sockets = host.sockets();
		for (int c = 0; c < kContainers; c++) {
			must(host.add_container(container(c), "br0", "veth" + std::to_string(c),
						model::mac(2, 0x42, 0, 0, 1, static_cast<std::uint8_t>(c)),
						{container_address(c), 16}),
			     "container");
			auto sock = [&](const std::string &name, model::Endpoint local) {
				must(sockets.create(name, container(c), model::Protocol::udp), "socket");
				must(sockets.bind(name, local, {}), "bind " + name);
			};
			for (int p = 0; p < 6; p++)
				sock(container(c) + "/" + std::to_string(5000 + p),
				     {model::any_address, static_cast<std::uint16_t>(5000 + p)});
			sock(container(c) + "/dns", {container_address(c), 53});
			sock(container(c) + "/conn", {model::any_address, 7000});
			must(sockets.connect(container(c) + "/conn", {model::ipv4(10, 233, 200, 1), 9000}), "connect");
		}
		std::mt19937_64 rng(42);
		for (int i = 0; i < (1 << 14); i++) {
			int c = static_cast<int>(rng() % kContainers);
			int kind = static_cast<int>(rng() % 8);
			model::FourTuple t;
			t.destination.address = container_address(c);
			if (kind < 6) {
				t.source = {model::ipv4(10, 233, 2, static_cast<std::uint8_t>(rng())),
					    static_cast<std::uint16_t>(1024 + rng() % 60000)};
				t.destination.port = static_cast<std::uint16_t>(5000 + kind);
			} else if (kind == 6) {
				t.source = {model::ipv4(10, 233, 2, static_cast<std::uint8_t>(rng())),
					    static_cast<std::uint16_t>(1024 + rng() % 60000)};
				t.destination.port = 53;
			} else {
				t.source = {model::ipv4(10, 233, 200, 1), 9000};
				t.destination.port = 7000;
			}
			Query q{container(c), t};
			all_hits.push_back(q);
			if (rng() % 10 == 0)
				q.packet.destination.port = 6000; // nobody bound it
			some_miss.push_back(q);
		}
	}
};

// What the simulator's socket_lookup stage asks per datagram: the lookup and the socket-level
// receive, without the explanation (`udp_find_and_receive`); and, for comparison, the same with
// the sockets' names and the explanation `econ-sim trace` prints (`udp_receive`).
enum class SocketLookupCall { per_datagram, explained };

void socket_lookup(benchmark::State &state, int hit_percent, SocketLookupCall call)
{
	static SocketTable table;
	const auto &queries = hit_percent == 100 ? table.all_hits : table.some_miss;
	model::Sockets &sockets = table.host.sockets();
	std::size_t i = 0;
	std::uint64_t hits = 0;
	const std::uint64_t allocations_before = g_allocations.load(std::memory_order_relaxed);
	for (auto _ : state) {
		const SocketTable::Query &q = queries[i];
		if (call == SocketLookupCall::per_datagram) {
			const model::UdpAnswer r = sockets.udp_find_and_receive(q.ns, q.packet, 0);
			hits += r.found();
			benchmark::DoNotOptimize(r);
		} else {
			model::UdpLookupResult r = sockets.udp_receive(q.ns, q.packet, 0);
			hits += r.found();
			benchmark::DoNotOptimize(r);
		}
		if (++i == queries.size())
			i = 0;
	}
	const std::uint64_t allocations = g_allocations.load(std::memory_order_relaxed) - allocations_before;
	state.counters["allocs_per_lookup"] =
		static_cast<double>(allocations) / static_cast<double>(state.iterations());
	state.counters["sockets"] = static_cast<double>(sockets.all().size());
	state.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
}

constexpr std::size_t kFlowCounts[] = {64, 1024, 16384, 262144, 1048576, 2097152};
constexpr int kHitPercents[] = {100, 90, 0};
constexpr double kMinSeconds = 0.1;

template <typename S> void register_structure()
{
	for (std::size_t n : kFlowCounts)
		for (int hit : kHitPercents)
			benchmark::RegisterBenchmark(
				(std::string(S::kName) + "/flows:" + std::to_string(n) + "/hit:" + std::to_string(hit))
					.c_str(),
				[n, hit](benchmark::State &state) { lookup<S>(state, n, hit); })
				->MinTime(kMinSeconds);
}

} // namespace

int main(int argc, char **argv)
{
	// One simulated CPU, and this thread is an RCU reader on it.
	compat_set_nr_cpus(1);
	compat_set_cpu(0);
	rcu_register_thread();

	register_structure<Fixed>();
	register_structure<Absl>();
	register_structure<Boost>();
	register_structure<Std>();
	register_structure<Econ>();
	register_structure<EconHlist>();
	for (int hit : {100, 90}) {
		benchmark::RegisterBenchmark(
			("model_udp_lookup/sockets:320/hit:" + std::to_string(hit)).c_str(),
			[hit](benchmark::State &state) { socket_lookup(state, hit, SocketLookupCall::per_datagram); })
			->MinTime(kMinSeconds);
		benchmark::RegisterBenchmark(
			("model_udp_lookup_explained/sockets:320/hit:" + std::to_string(hit)).c_str(),
			[hit](benchmark::State &state) { socket_lookup(state, hit, SocketLookupCall::explained); })
			->MinTime(kMinSeconds);
	}

	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	rcu_unregister_thread();
	return 0;
}
