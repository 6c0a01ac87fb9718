# udp-fragments: UDP datagrams larger than the pods' MTU (1450), fragmented by the sending pod's
# stack (each fragment a VXLAN frame of its own) and reassembled by the receiving pod's (Linux
# ip_defrag, in the container's namespace: the host only bridges the fragments). The frame that
# completes a datagram carries its fate, the earlier fragments are "held". k1's 2000-byte
# datagrams are 2 fragments each (common/fragments.sh has the rest).
FRAGMENTS_K1_SIZE=2000
# shellcheck source=common/fragments.sh
source "$here/scenarios/common/fragments.sh"
