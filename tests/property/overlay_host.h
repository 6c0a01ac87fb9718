// The receiving host every property case runs on, built in memory (no YAML, no pcap): a Scenario
// struct whose timeline the test appends to as it goes, and the frames it receives as bytes.
//
// Two tenants with overlapping addresses, as two customers of one cloud would have them:
//   VNI 42: vxlan42 → br42 → c1 (10.233.1.2), c2 (10.233.1.3)
//   VNI 43: vxlan43 → br43 → c3 (10.233.1.2), c4 (10.233.1.3)
// c3 is c1's twin (same MAC and IP), c4 is c2's: only the VNI tells their traffic apart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "address.h"
#include "scenario.h"
#include "test_frames.h"

namespace econsim::sim::property {

using test::Bytes;

inline constexpr std::uint16_t kVxlanPort = 4789;
inline constexpr const char *kNic = "enp1s0";

struct Tenant {
	std::string container;
	std::string bridge;
	std::string vxlan;
	std::string veth;
	std::uint32_t vni;
	MacAddress mac;
	Ipv4Address ip;
};

// c1, c2, c3, c4, in that order.
const std::vector<Tenant> &tenants();
const Tenant *tenant(const std::string &container);

Ipv4Address ip(const char *text); // aborts on a typo
MacAddress mac(const char *text);
Ipv4Address host_ip();          // the NIC's 192.168.0.2
Ipv4Address subnet_broadcast(); // 10.233.1.255, the containers' /24 broadcast

// Remote containers that send to the tenants, each behind its own MAC, on a remote host (VTEP).
struct Peer {
	Endpoint endpoint;
	MacAddress mac;
	Ipv4Address vtep;
};
const std::vector<Peer> &peers();

// The host above with `cpus` CPUs, L4 RSS and an empty timeline.
Scenario overlay_scenario(int cpus);

// What can go wrong in a received frame's headers, one at a time.
enum class Corruption { none, outer_ip_checksum, inner_ip_checksum, vxlan_flags };

// A frame's datagram sent in two fragments, each a frame of its own: the outer (underlay) IPv4
// datagram, which the host reassembles before UDP (ip_defrag_host), or the inner one, reassembled
// in the container (ip_defrag). A plain frame to the host has only the outer level.
enum class Fragmenting { none, outer, inner };

// One received frame: VXLAN from a remote VTEP to a container, or a plain datagram or segment to
// the host itself (vxlan false: outer_src and dst are then the packet's own addresses).
struct FrameSpec {
	bool vxlan = true;
	Endpoint outer_src;
	std::uint32_t vni = 42;
	MacAddress inner_src_mac;
	MacAddress inner_dst_mac;
	SocketProto proto = SocketProto::udp;
	Endpoint src; // inner source (VXLAN), unused otherwise
	Endpoint dst;
	std::uint8_t tcp_flags = 0;
	Corruption corruption = Corruption::none;
	Fragmenting fragmenting = Fragmenting::none; // only without a corruption
};

Bytes frame_bytes(const FrameSpec &spec);
// The frames `spec` arrives as: frame_bytes alone, or its two fragments with IPv4 id `id`.
std::vector<Bytes> frame_pieces(const FrameSpec &spec, std::uint16_t id);
// "vni 42 via 192.168.0.1:40000, udp 10.233.2.2:4000 > 10.233.1.2:5000 (mac c1)"
std::string describe(const FrameSpec &spec);
std::string tcp_flags_text(std::uint8_t flags); // "SYN", "ACK", "FIN|ACK", ...

// Outer sources on each remote VTEP (192.168.0.1 and 192.168.0.3) whose NIC hashes put their
// frames on CPU 0, 1, 2 and 3 of four (0, 1, 2, 0 of three; 0, 1, 0, 1 of two): found by search.
const std::vector<Endpoint> &outer_sources_per_cpu();

// Two outer sources whose NIC hashes differ but land in the same bucket of ECON's 1024-bucket
// map and on the same CPU for 2, 3 and 4 CPUs: found once by search, with the simulator's RSS key.
struct CollidingSources {
	Endpoint first;
	Endpoint second;
};
const CollidingSources &econ_bucket_collision();

} // namespace econsim::sim::property
