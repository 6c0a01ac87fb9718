// The UDP lookup's index, prepared from the socket table the way the kernel keeps its udp_table
// (net/ipv4/udp.c, include/net/udp.h): hashed by namespace and port, each chain in the order a
// lookup walks it, so that a lookup hashes once, walks one short chain, and allocates nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/name_hash.h"
#include "model/socket.h"

namespace econsim::model {

// The members of an SO_REUSEPORT group that reuseport_select_sock_by_hash may return: the
// unconnected ones (it skips TCP_ESTABLISHED), in joining order.
struct UdpReuseportChoice {
	std::vector<const Socket *> selectable;
	bool has_conns = false; // sock_reuseport.h: has_conns, when the group was indexed
};

struct UdpChainEntry {
	const Socket *socket = nullptr;
	int group = -1; // index in UdpPortChain::groups, or -1 when the socket is in no group
};

// The UDP sockets of one namespace holding one port, newest hash2 entry first (lookup_sequence:
// the bind, or the last rehash). The kernel keeps one hslot per port and one hslot2 per address
// and port and walks the hslot2 of the destination, then of 0.0.0.0 (udp4_lib_lookup2); here one
// chain per port holds both, and compute_score skips the other addresses, which decides the same
// (a namespace rarely holds more than a few sockets on one port).
struct UdpPortChain {
	std::vector<UdpChainEntry> entries;
	std::vector<UdpReuseportChoice> groups;
};

class UdpTable {
public:
	// The chain for a port in a namespace, or null when no UDP socket there holds it.
	const UdpPortChain *find(std::string_view ns, std::uint16_t port) const
	{
		auto it = chains_.find(PortName{ns, port});
		return it == chains_.end() ? nullptr : &it->second;
	}
	// The sockets on a port changed: `chain` replaces what was there (an empty one removes it).
	void replace(std::string_view ns, std::uint16_t port, UdpPortChain chain);

private:
	// The key as stored, and as looked up (a view of the caller's namespace name).
	struct Port {
		std::string ns;
		std::uint16_t port = 0;
	};
	struct PortName {
		std::string_view ns;
		std::uint16_t port = 0;
	};
	struct PortHash {
		using is_transparent = void;
		std::size_t operator()(const PortName &key) const
		{
			return NameHash{}(key.ns) ^ (std::size_t{key.port} * 0x9E3779B97F4A7C15ull);
		}
		std::size_t operator()(const Port &key) const { return (*this)(PortName{key.ns, key.port}); }
	};
	struct PortEqual {
		using is_transparent = void;
		static PortName view(const Port &key) { return PortName{key.ns, key.port}; }
		static PortName view(const PortName &key) { return key; }
		template <typename A, typename B> bool operator()(const A &a, const B &b) const
		{
			return view(a).port == view(b).port && view(a).ns == view(b).ns;
		}
	};

	std::unordered_map<Port, UdpPortChain, PortHash, PortEqual> chains_;
};

} // namespace econsim::model
