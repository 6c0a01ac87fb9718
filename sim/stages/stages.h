// The overlay host's stages, one file each, named after the kernel path each models. A stage
// returns true to hand the packet on; false when it decided the packet (the verdict says how).
// Receive: nic_rx → ip_rcv → (ip_defrag_host, for an outer fragment) → udp_rcv → vxlan_rcv →
//          br_handle_frame → veth_xmit →
//          ip_rcv_container → (ip_defrag, for a fragment) → socket_lookup → deliver
// Routed (a VXLAN device with no bridge): … vxlan_rcv → ip_route_input → ip_forward →
//          neigh_output [→ br_dev_xmit] → veth_xmit → ip_rcv_container → …, or
//          ip_route_input → ip_local_deliver_host [→ ip_defrag] for the host's own addresses
// Transmit: nic_rx → vxlan_xmit
#pragma once

#include "../fastpath.h"
#include "../overlay_host.h"
#include "../packet.h"

namespace econsim::sim {

// What every stage may use: the host (model and ids), and the fast path to tell about changes.
struct StageContext {
	OverlayHost &host;
	FastPath &fastpath;
};

// mlx5e_handle_rx_cqe / eth_type_trans: which way the frame goes, its RSS hash and CPU.
bool nic_rx(StageContext &ctx, Packet &pkt);
// ip_rcv_core + ip_route_input_noref + ip_local_deliver, in the host namespace.
bool ip_rcv(StageContext &ctx, Packet &pkt);
// ip_local_deliver → ip_defrag in the host namespace, for an outer fragment: held, or the whole
// datagram (its frame rebuilt and parsed again) on to UDP, or dropped (with its queue, for an overlap).
bool ip_defrag_host(StageContext &ctx, Packet &pkt);
// __udp4_lib_rcv in the host namespace: the VXLAN device's socket, or a host socket.
bool udp_rcv(StageContext &ctx, Packet &pkt);
// tcp_v4_rcv in the host namespace (plain TCP to the host itself).
bool tcp_rcv(StageContext &ctx, Packet &pkt);
// vxlan_rcv: flags, VNI → device, decapsulation.
bool vxlan_rcv(StageContext &ctx, Packet &pkt);
// br_handle_frame → br_handle_frame_finish → br_forward: FDB learning and forwarding.
bool br_handle_frame(StageContext &ctx, Packet &pkt);
// Routed overlays: ip_rcv_core + ip_route_input_slow on the VXLAN device (pkt.route: null for
// the host itself), ip_local_deliver to the host's stack, ip_forward's checks, the next hop's
// neighbour and the egress device, and br_dev_xmit when that device is a bridge.
bool ip_route_input(StageContext &ctx, Packet &pkt);
bool ip_local_deliver_host(StageContext &ctx, Packet &pkt);
bool ip_forward(StageContext &ctx, Packet &pkt);
bool neigh_output(StageContext &ctx, Packet &pkt);
bool br_dev_xmit(StageContext &ctx, Packet &pkt);
// veth_xmit → veth_forward_skb → netif_rx: into the container's namespace.
bool veth_xmit(StageContext &ctx, Packet &pkt);
// ip_rcv_core + ip_route_input_noref in the container's namespace.
bool ip_rcv_container(StageContext &ctx, Packet &pkt);
// ip_local_deliver → ip_defrag in the container's namespace (or the host's, for an inner fragment
// routed to the host itself), for an inner fragment: held, or the whole datagram on to the socket
// lookup, or dropped (with its queue, for an overlap).
bool ip_defrag(StageContext &ctx, Packet &pkt);
// __udp4_lib_lookup / __inet_lookup_skb + tcp_v4_rcv's state machine, asking model/.
bool socket_lookup(StageContext &ctx, Packet &pkt);
// udp_queue_rcv_skb / tcp_v4_do_rcv: the verdict, and the fast path told of the delivery.
bool deliver(StageContext &ctx, Packet &pkt);
// vxlan_xmit → udp_tunnel_xmit_skb: a transmitted frame's outer headers against the model's.
bool vxlan_xmit(StageContext &ctx, Packet &pkt);

// Shared by ip_rcv and ip_rcv_container: ip_route_input_noref → ip_local_deliver for the IPv4
// header `ip` (and the L4 header under it) in namespace `ns`: a local address, then a whole
// datagram that is UDP or TCP with ports. A fragment goes on to reassembly where `reassembles`
// (the outer level in the host, ip_defrag_host; the inner one in a container or routed to the host
// itself, ip_defrag); elsewhere (an outer fragment reassembled already) it is dropped. `level`
// ("outer", "inner") names the header in the explanations.
struct LocalDelivery {
	Stage stage;
	const char *level;
	std::string_view ns;
	const Ipv4Header &ip;
	const std::optional<TransportHeader> &l4;
	bool reassembles = false;
};
bool ip_local_deliver(StageContext &ctx, Packet &pkt, const LocalDelivery &at);

// Shared by ip_rcv_container and ip_route_input: ip_rcv_core's checks of the inner IPv4 header
// (not IPv4: ignored, the stack's own ARP takes it; VLAN-tagged, bad checksum: dropped).
bool inner_ip_rcv_core(Stage stage, Packet &pkt);

// Shared by ip_rcv and ip_route_input: kube-proxy's nat PREROUTING as the scenario declares it
// (host.nat). False when the NAT decides the frame: `ignore: nat_nodeport` (a NodePort frame to a
// host address, DNAT'ed to its pod) or `ignore: nat_reply` (the pod's reply, which conntrack turns
// back); true otherwise.
bool nf_nat_prerouting(StageContext &ctx, Packet &pkt, Stage stage, const Ipv4Header &ip,
		       const std::optional<TransportHeader> &l4);

// Shared by br_handle_frame, ip_forward, vxlan_xmit and the fixed fast path's hit: the host's
// netfilter (host.netfilter) on the inner packet as it is forwarded from device `in` to `out`
// (nf_forward.cpp), called where nf_forward_applies (below) says the packet meets it. A received packet the FORWARD chain drops is dropped
// (`netfilter_drop`), one the model cannot track (a fragment, not UDP or TCP) ignored
// (`netfilter_not_modelled`); a `transmitted` one keeps its verdict (the capture shows it sent) and
// the caller reports a drop.
struct NfDevices {
	std::string_view in;
	std::string_view out;
	bool transmitted = false;
};
enum class NfForward { not_ipv4, accepted, dropped, not_modelled };
NfForward nf_forward(StageContext &ctx, Packet &pkt, Stage stage, const NfDevices &devices);
// Whether a packet crossing a bridge (`bridged`: br_netfilter hands it to iptables only with
// bridge-nf-call-iptables on) or routed meets the host's netfilter at all: inline, as every
// bridged frame asks it before nf_forward (a node without netfilter pays a pointer test).
inline bool nf_forward_applies(const OverlayHost &host, bool bridged)
{
	const model::Netfilter *nf = host.model().netfilter();
	return nf && (!bridged || nf->config().bridge_nf_call_iptables);
}

// Shared by ip_defrag and ip_defrag_host: the model's fragment for an IPv4 header received in
// namespace `ns` (no transport start, no bytes: the caller adds what its level needs), and the
// verdict of the model's answer: held or dropped (false), or the datagram completed (true).
model::Fragment fragment_of(std::string_view ns, const Ipv4Header &ip, std::int64_t now_ns);
bool defrag_completes(Stage stage, Packet &pkt, const model::Fragment &fragment, const model::DefragAnswer &answer);

// Shared by socket_lookup and the fast paths: the socket-level receive on a known namespace
// (UDP queueing, TCP state machine), which the fast path does not skip.
bool receive_on_socket(StageContext &ctx, Packet &pkt);
// The TCP socket-level receive alone, on pkt.socket as a fast-path hit gives it (no lookup).
bool receive_on_cached_socket(StageContext &ctx, Packet &pkt);
// econ mode's hit: the socket-level receive finds the socket again (tcp_v4_rcv's state machine,
// UDP's per-socket bookkeeping) while the datagram goes to pkt.socket, the cached one.
bool receive_beside_cached_socket(StageContext &ctx, Packet &pkt);

// A TCP header's SYN, ACK, FIN and RST, as the model reads them (socket_lookup, nf_forward).
model::TcpFlags tcp_flags(const TransportHeader &l4);

// The outer addresses and ports of a frame to the host itself (udp_rcv, tcp_rcv).
model::FourTuple outer_tuple(const ParsedFrame &f);

// The CPU RSS picks: the default indirection table (ethtool -x) spreads its 128 slots over the
// receive queues round robin, one queue per CPU.
unsigned rss_cpu(std::uint32_t hash, unsigned cpus);

} // namespace econsim::sim
