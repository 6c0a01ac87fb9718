// The flows the map benchmarks use: keys as the fixed map takes them (struct fpmap_flow), the
// hash a NIC would have computed for each, and the destination every structure stores.
#pragma once

#include <endian.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>

#include "econ_map.h"
#include "fpmap.h"

namespace econsim::bench {

struct Probe {
	fpmap_flow key;
	std::uint32_t hash; // what the NIC computed: skb->hash
};

inline constexpr std::uint32_t kHostNetns = 0xf0000000; // init_net's inum: where every RX lookup starts

inline std::uint64_t fmix64(std::uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

// A good 64-bit mix of the 24 key bytes: the hash std and boost use, and (its low half) the NIC's.
inline std::uint64_t key_mix(const fpmap_flow &k)
{
	std::uint64_t w[3];
	static_assert(sizeof(w) == sizeof(fpmap_flow));
	std::memcpy(w, &k, sizeof(w));
	return fmix64(w[0] * 0x9E3779B97F4A7C15ull ^ std::rotl(w[1], 21) * 0xC2B2AE3D27D4EB4Full ^
		      std::rotl(w[2], 42) * 0x165667B19E3779F9ull);
}

inline std::uint32_t nic_hash(const fpmap_flow &k)
{
	return static_cast<std::uint32_t>(key_mix(k));
}

struct FlowEq {
	bool operator()(const fpmap_flow &a, const fpmap_flow &b) const { return !std::memcmp(&a, &b, sizeof(a)); }
};
struct FlowMix {
	std::size_t operator()(const fpmap_flow &k) const { return key_mix(k); }
};

// ECON keeps the inner 5-tuple only (B8: no VNI, no namespace).
inline sim::EconFlow econ_flow(const fpmap_flow &k)
{
	return sim::EconFlow{k.saddr, k.daddr, k.sport, k.dport, k.proto};
}

// A flow as containers get them: clients anywhere in 10/8, a few hundred container addresses,
// a handful of service ports, mostly UDP, 16 VNIs; every lookup starts in the host namespace.
inline fpmap_flow random_flow(std::mt19937_64 &rng)
{
	static constexpr std::uint16_t kServicePorts[] = {53,   80,   443,  4000, 5000, 5001,
							  5002, 5003, 6379, 8080, 8443, 9000};
	fpmap_flow k{};
	k.saddr = htobe32(0x0a000000u | static_cast<std::uint32_t>(rng() & 0xffffff));
	k.daddr = htobe32(0x0ae90000u | static_cast<std::uint32_t>(0x100 + rng() % 320));
	k.sport = htobe16(static_cast<std::uint16_t>(1024 + rng() % (65536 - 1024)));
	k.dport = htobe16(kServicePorts[rng() % std::size(kServicePorts)]);
	k.proto = rng() % 10 ? 17 : 6;
	k.vni = 100 + static_cast<std::uint32_t>(rng() % 16);
	k.netns = kHostNetns;
	return k;
}

// Where flow i ends: socket cookie `cookie`, in one of 40 container namespaces.
inline fpmap_rx_dest dest_for(std::uint64_t cookie)
{
	fpmap_rx_dest d{};
	d.sock_cookie = cookie;
	d.sk = reinterpret_cast<void *>(0x1000 + 64 * (cookie % 320));
	d.sock_netns = 0xf0000100 + static_cast<std::uint32_t>(cookie % 40);
	d.dev = {d.sock_netns, 2};
	return d;
}

// The devices the slow path crossed for a flow: VXLAN device, bridge, veth host end, container end.
inline fpmap_path path_for(const fpmap_rx_dest &d, std::uint64_t i)
{
	fpmap_path path{};
	path.dev[0] = {kHostNetns, 3 + static_cast<int>(i % 16)};
	path.dev[1] = {kHostNetns, 20 + static_cast<int>(i % 16)};
	path.dev[2] = {kHostNetns, 40 + static_cast<int>(d.sock_netns % 40)};
	path.dev[3] = d.dev;
	return path;
}

} // namespace econsim::bench
