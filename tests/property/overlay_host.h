// The receiving host every property case runs on, built in memory (no YAML, no pcap): a Scenario
// struct whose timeline the test appends to as it goes, and the frames it receives as bytes.
// A case draws one of three kinds of host (TopologyKind), as the overlays build them:
//
// bridged (Docker's overlay): two tenants with overlapping addresses, as two customers of one
// cloud would have them:
//   VNI 42: vxlan42 → br42 → c1 (10.233.1.2), c2 (10.233.1.3)
//   VNI 43: vxlan43 → br43 → c3 (10.233.1.2), c4 (10.233.1.3)
// c3 is c1's twin (same MAC and IP), c4 is c2's: only the VNI tells their traffic apart. Each
// container's MAC is a static entry of its bridge's FDB, unless the case asks for bridges that
// learn only (ContainerFdb).
//
// flannel (its VXLAN backend): flannel.1 (VNI 42) has an address, 10.233.1.0/32, its own FDB entry
// per remote VTEP and no bridge; the host routes 10.233.1.0/24 to cni0 (10.233.1.1/24, the pods'
// gateway), which sends to c1 (10.233.1.2) and c2 (10.233.1.3) behind veth-c1 and veth-c2 (its
// static FDB entries, the same way).
//
// calico (VXLAN mode): vxlan.calico (VNI 42) has 10.233.1.1/32, no bridge anywhere; c1 and c2 each
// behind a veth of their own (calic1, calic2: MAC ee:ee:ee:ee:ee:ee, proxy ARP) with a /32 route.
//
// On both routed hosts the remote pods' 10.233.2.0/24 is routed back through the VXLAN device
// (onlink via the remote node's address on it), ip_forward is 1 and rp_filter 1 (strict), as
// traces/record's flannel and Calico nodes have them.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
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

enum class TopologyKind { bridged, flannel, calico };
std::string_view to_string(TopologyKind kind);
void showValue(TopologyKind kind, std::ostream &os); // how rapidcheck prints one
inline bool is_routed(TopologyKind kind)
{
	return kind != TopologyKind::bridged;
}

// The bridged host's c1, c2, c3, c4, in that order.
const std::vector<Tenant> &tenants();
const Tenant *tenant(const std::string &container);
// The containers of a kind of host: the bridged four, or a routed host's c1 and c2 (`bridge` is
// cni0 or empty, `vxlan` the routed device).
const std::vector<Tenant> &tenants(TopologyKind kind);
const Tenant *tenant(TopologyKind kind, const std::string &container);

// A routed host's VXLAN device: what a frame for its pods is addressed to (the inner destination
// MAC is the device's: the sending node routed the packet to it), the host's own addresses on the
// overlay (the device's, and cni0's on flannel), and the routes, neighbours and sysctls it starts with.
struct RoutedOverlay {
	std::string vxlan;
	MacAddress mac;
	std::vector<Ipv4Address> host_addresses;
	Ipv4Address remote_gateway; // the remote pods' next hop, on the VXLAN device
};
const RoutedOverlay &routed_overlay(TopologyKind kind); // flannel or calico

// What the routing commands choose from on a kind of routed host: routes that `ip route replace`
// puts in (the host's own, a pod moved away, a pod subnet on the wrong device, a default route, the
// remote pods behind the NIC), the prefixes `ip route del` takes out, and neighbours (a pod's
// right or wrong MAC).
const std::vector<Route> &route_choices(TopologyKind kind);
const std::vector<Neighbour> &neighbour_choices(TopologyKind kind);
// The host's device names, the NIC first (the containers' ends are added by the caller).
std::vector<std::string> host_devices(TopologyKind kind);
// Addresses a routed host has no pod for: in the pods' subnet (no neighbour: ARP would be asked),
// and outside every route (no route).
Ipv4Address absent_pod();
Ipv4Address unrouted_address();
// Inner sources whose route back does not leave through the VXLAN device (the NIC's subnet, which
// strict rp_filter refuses) or that no route leads back to.
const std::vector<Endpoint> &foreign_sources();

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

// How the bridges (br42 and br43, flannel's cni0) know the containers behind them.
enum class ContainerFdb {
	// A static FDB entry per container, on its veth (`bridge fdb add MAC dev VETH master static`),
	// as traces/record installs them: a frame to a container is forwarded by the FDB, as the
	// fast path needs to cache its flow (a flood is never cached). What the property runs on.
	static_entries,
	// None: the bridges learn only, and flood a frame to a container until it has sent one.
	learned,
};

// The host of that kind with `cpus` CPUs, L4 RSS and an empty timeline; with `netfilter` (bridged
// hosts), Docker's FORWARD chain for its bridges (docker_netfilter()).
Scenario overlay_scenario(int cpus, TopologyKind kind = TopologyKind::bridged,
			  ContainerFdb fdb = ContainerFdb::static_entries, bool netfilter = false);

// br_netfilter on, FORWARD policy DROP: replies (ESTABLISHED) accepted, NEW UDP and TCP to port
// kNetfilterDroppedPort dropped, then everything between one bridge's ports accepted; UDP timeouts
// of 100 and 120 ms, so that a sleep outlives an entry and the flow's next datagram is NEW again.
model::NetfilterConfig docker_netfilter();
inline constexpr std::uint16_t kNetfilterDroppedPort = 5001;

// What can go wrong in a received frame's headers, one at a time.
enum class Corruption { none, outer_ip_checksum, inner_ip_checksum, vxlan_flags };

// A frame's datagram sent in two fragments, each a frame of its own: the outer (underlay) IPv4
// datagram, which the host reassembles before UDP (ip_defrag_host), or the inner one, reassembled
// in the container (ip_defrag). A plain frame to the host has only the outer level.
enum class Fragmenting { none, outer, inner };

// One received frame: VXLAN from a remote VTEP to a container, or a plain datagram or segment to
// the host itself (vxlan false: outer_src and dst are then the packet's own addresses). Or, sent
// true, one the host sends: a container's datagram (src and inner_src_mac the container's, dst and
// inner_dst_mac a peer's) that its bridge and VXLAN device sent on, captured leaving the NIC for
// the VTEP at outer_src's address, from the NIC's address and outer_src's port.
struct FrameSpec {
	bool vxlan = true;
	bool sent = false; // VXLAN only, never fragmented or corrupted
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
	std::uint8_t ttl = 64; // the inner IPv4 TTL (VXLAN): 1 is what a routed host will not forward
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
