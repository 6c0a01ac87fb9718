// The fast path a replay runs with: `off` (none), `fixed` (the kernel-port map) or `econ` (the
// original patch as-is). The pipeline asks it at NIC RX and tells it about slow-path deliveries
// and transmissions; the host tells it about every scenario event that could change an answer.
// A fast path answers where a frame goes; the pipeline runs what follows (it never calls a stage).
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "fpmap.h"
#include "frame_parser.h"
#include "model/types.h"
#include "scenario.h"

namespace econsim::sim {

class FlowMap;
class OverlayHost;
struct Packet;

// Where a received frame goes after the fast path's NIC RX lookup.
enum class FastRx {
	miss,    // the slow path decides (and may cache its answer)
	ended,   // the fast path ended the frame itself (verdict set): the original patch's faults
	// A hit: pkt.netns and pkt.flow are the entry's, the path is fast. Next comes the socket-level
	// receive, which the kernel runs per packet anyway, then the delivery:
	cached,  // on the cached socket (fixed: pkt.socket), no lookup: udp_received_on,
		 // tcp_receive_on (HostPipeline::deliver_from_cache)
	relookup // econ (pkt.socket): tcp_v4_rcv's state machine and udp's bookkeeping find the
		 // socket again, and the datagram still goes to the cached one
};

class FastPath {
public:
	virtual ~FastPath() = default;

	// NIC RX, before GRO.
	virtual FastRx rx(OverlayHost &host, Packet &pkt) = 0;
	// pkt's own vxlan_snoop raised an event: it happened before the point where the kernel series
	// looks the flow up (fpath_vxlan_rcv, after vxlan_set_mac), so before that series' ticket.
	// (Nothing else happens between a frame's lookup and its vxlan_rcv: events come between frames.)
	virtual void rx_past_vxlan_snoop(Packet &) {}
	// The slow path delivered pkt to pkt.socket.
	virtual void rx_delivered(OverlayHost &host, const Packet &pkt) = 0;
	// A container's packet left by the NIC (pkt.socket sent it): true when the fast path would
	// have built the outer headers itself (verdict and path set).
	virtual bool tx(OverlayHost &host, Packet &pkt) = 0;
	virtual void tx_sent(OverlayHost &host, const Packet &pkt) = 0;
	// Whether tx() is asked before the container's bridge, so that a hit never reaches it (econ's
	// hook is veth_xmit on the container's eth0); otherwise the bridge has seen the frame first.
	virtual bool tx_hit_skips_bridge() const { return false; }

	// Scenario events, after the model applied them.
	virtual void socket_closed(std::uint64_t cookie) = 0;
	virtual void socket_rebound(std::uint32_t netns, model::Protocol protocol, std::uint16_t port) = 0;
	virtual void device_changed(const fpmap_dev &dev, fpmap_event event) = 0;
	virtual void netns_exit(std::uint32_t netns) = 0;
	// The host namespace's routing changed (a route, a neighbour, a sysctl, or a link in a routed
	// topology, which takes routes with it): only `fixed` checks routing on a hit.
	virtual void routing_changed() {}
	virtual void flush(std::int64_t now_ns) = 0;

	// Lines for the replay's summary: hits, entries, invalidations by kind.
	virtual void summarize(std::ostream &out) const = 0;

	// The kernel-port map behind `fixed` mode, for tests that look inside it; null otherwise.
	virtual const FlowMap *flow_map() const { return nullptr; }
};

std::unique_ptr<FastPath> make_fastpath(FastpathMode mode, const Scenario &scenario);

// The IP protocol number of a socket's protocol.
constexpr std::uint8_t ip_proto(model::Protocol protocol)
{
	return protocol == model::Protocol::udp ? kIpProtoUdp : kIpProtoTcp;
}

// `fixed` mode's key for a flow, byte for byte the struct fpmap_flow the kernel series fills
// (fpath_parse): addresses and ports in network order, the IP protocol, padding zero, then the VNI
// (0 on TX) and the namespace id of the socket's side (the host's on RX).
fpmap_flow fixed_flow_key(const model::FiveTuple &flow, std::uint32_t vni, std::uint32_t netns);

// Whether a cached 50-byte outer header (Ethernet, IPv4, UDP, VXLAN) is the one a transmitted frame
// carries, leaving out what the kernel writes per packet: IPv4 total length, id and checksum; UDP
// length and checksum.
bool same_outer_header(std::span<const std::uint8_t> cached, std::span<const std::uint8_t> sent);

} // namespace econsim::sim
