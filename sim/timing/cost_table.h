// The CPU cost of each stage of the receive path, in nanoseconds of virtual time. The numbers are
// sim/timing/costs.yaml's, written by tools/measure-costs from this machine's real kernel and
// compiled in; --costs FILE reads another file of the same shape.
#pragma once

#include <cstdint>
#include <string>

namespace econsim::sim::timing {

struct CostTable {
	// stages: ns per packet
	// Each NAPI pass (nic_rx, gro_cells, backlog) includes its share of net_rx_action, the poll and
	// the skb's free.
	std::int64_t nic_rx = 0;           // NIC pass: driver RX, GRO, __netif_receive_skb_core
	std::int64_t ip_rcv = 0;           // outer ip_rcv + route + UDP lookup (udp_rcv's share included)
	std::int64_t ip_rcv_early = 0;     // the same pass as the series' early receive leaves it (fixed mode)
	std::int64_t vxlan_rcv = 0;        // decapsulation + gro_cells_receive
	std::int64_t gro_cells = 0;        // gro_cell_poll pass: GRO + __netif_receive_skb_core on the VXLAN device
	std::int64_t br_handle_frame = 0;  // bridge forwarding
	std::int64_t br_netfilter = 0;     // br_netfilter's hooks (bridge-nf-call-iptables=1)
	std::int64_t veth_xmit = 0;        // veth_xmit → netif_rx
	std::int64_t backlog = 0;          // process_backlog pass + __netif_receive_skb_core on the container's eth0
	std::int64_t ip_rcv_container = 0; // container ip_rcv + route + UDP lookup (socket_lookup's included)
	std::int64_t deliver = 0;          // UDP socket enqueue
	std::int64_t fastpath_hit = 0;     // a fast-path hit's own work (lookup, header checks, hooks)
	// per_byte: ns per wire byte
	double per_byte_rx = 0;      // any received packet
	double per_byte_overlay = 0; // more, on the overlay slow path

	std::string source;  // the file, or "sim/timing/costs.yaml (built in)"
	std::string machine; // "Intel(R) Xeon(R) Processor, 2 CPUs, Linux 6.18.44 (KVM)"
};

// The table measured on the machine named in it, compiled in from sim/timing/costs.yaml.
const CostTable &measured_costs();
// Another table, from a file shaped like costs.yaml. Throws InputError (file:line) when a row is
// missing or not a number.
CostTable load_costs(const std::string &path);
CostTable parse_costs(const std::string &text, const std::string &file);

} // namespace econsim::sim::timing
