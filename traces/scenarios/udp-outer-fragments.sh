# udp-outer-fragments: node A's underlay MTU is 1000 while its VXLAN device keeps 1450, so every
# VXLAN datagram longer than 1000 bytes leaves node A in outer (underlay) IPv4 fragments; node B's
# host namespace reassembles them (ip_local_deliver → ip_defrag) before UDP 4789 and vxlan_rcv. The
# frame that completes a VXLAN datagram carries its fate, the earlier outer fragments are "held".
# k1's 1400-byte datagrams are whole inside and 2 outer fragments each; k2's 4000-byte ones are 3
# inner fragments, each a VXLAN datagram in 2 outer fragments (reassembled twice: in the host,
# then in c1); k2's small ones are not fragmented at all (common/fragments.sh has the rest).
underlay_mtu 1000
FRAGMENTS_K1_SIZE=1400
# shellcheck source=common/fragments.sh
source "$here/scenarios/common/fragments.sh"
