# flannel-netfilter: the routed netfilter scenario (common/routed-netfilter.sh) on a flannel node:
# FORWARD accepts "in flannel.1 out cni0" (node A's clients to pod c1) and "in cni0 out flannel.1"
# (c1's own sends), after conntrack's replies and the dport 5099 drop; policy drop.
topology flannel
SCENARIO_VNI=1
SCENARIO_VXLAN_DEV=flannel.1
SCENARIO_POD_DEV=cni0
vni $SCENARIO_VNI
# shellcheck source=common/routed-netfilter.sh
source "$here/scenarios/common/routed-netfilter.sh"
