// The stages a frame can be at, by id: the one table of their names (as `econ-sim trace` and the
// replay's per-stage summary print them), in the order of the kernel's path. Counters are arrays
// indexed by Stage; names appear only where text is written.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace econsim::sim {

// name: the kernel function (or the fast path's hook) the stage stands for.
#define ECONSIM_STAGES(X)                                                                      \
	X(nic_rx)             /* mlx5e_handle_rx_cqe / eth_type_trans */                     \
	X(fastpath)           /* the fast path's NIC RX lookup (or its TX template) */       \
	X(econ_rx)            /* econ mode: the original patch's RX hook */                  \
	X(econ_rx_deliver)    /* econ mode: its delivery to the cached socket */             \
	X(econ_xmit)          /* econ mode: its TX hook */                                   \
	X(ip_rcv)             /* ip_rcv_core + ip_route_input_noref, host namespace */       \
	X(ip_defrag_host)     /* ip_local_deliver → ip_defrag, host namespace (outer) */     \
	X(udp_rcv)            /* __udp4_lib_rcv, host namespace */                           \
	X(tcp_rcv)            /* tcp_v4_rcv, host namespace */                               \
	X(vxlan_rcv)          /* vxlan_rcv */                                                \
	X(gro_cells_receive)  /* the VXLAN device's gro_cell queue (--timing) */             \
	X(ip_route_input)     /* routed: ip_rcv_core + ip_route_input_slow, host namespace */ \
	X(ip_local_deliver_host) /* routed: ip_local_deliver to the host's own stack */       \
	X(ip_forward)         /* routed: ip_forward (TTL, MTU) */                             \
	X(neigh_output)       /* routed: ip_finish_output2 → neigh_output → dev_queue_xmit */ \
	X(br_dev_xmit)        /* routed: br_dev_xmit, a frame the host sent into a bridge */  \
	X(br_handle_frame)    /* br_handle_frame → br_forward */                            \
	X(veth_xmit)          /* veth_xmit → netif_rx */                                    \
	X(enqueue_to_backlog) /* the per-CPU backlog queue (--timing) */                     \
	X(ip_rcv_container)   /* ip_rcv_core + ip_route_input_noref, container namespace */  \
	X(ip_defrag)          /* ip_local_deliver → ip_defrag, container namespace */        \
	X(socket_lookup)      /* __udp4_lib_lookup / __inet_lookup_skb */                    \
	X(deliver)            /* udp_queue_rcv_skb / tcp_v4_do_rcv */                        \
	X(vxlan_xmit)         /* vxlan_xmit → udp_tunnel_xmit_skb */

enum class Stage : std::uint8_t {
#define ECONSIM_STAGE_ENUM(name) name,
	ECONSIM_STAGES(ECONSIM_STAGE_ENUM)
#undef ECONSIM_STAGE_ENUM
};

inline constexpr std::array<std::string_view, 0
#define ECONSIM_STAGE_COUNT(name) +1
	ECONSIM_STAGES(ECONSIM_STAGE_COUNT)
#undef ECONSIM_STAGE_COUNT
	> kStageNames{
#define ECONSIM_STAGE_NAME(name) #name,
		ECONSIM_STAGES(ECONSIM_STAGE_NAME)
#undef ECONSIM_STAGE_NAME
};

inline constexpr std::size_t kStageCount = kStageNames.size();

constexpr std::string_view stage_name(Stage stage)
{
	return kStageNames[static_cast<std::size_t>(stage)];
}

} // namespace econsim::sim
