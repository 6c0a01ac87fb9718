# calico-netfilter: the routed netfilter scenario (common/routed-netfilter.sh) on a Calico node:
# FORWARD accepts "in vxlan.calico out calic1" (node A's clients to pod c1) and "in calic1 out
# vxlan.calico" (c1's own sends), after conntrack's replies and the dport 5099 drop; policy drop.
topology calico
SCENARIO_VNI=4096
SCENARIO_VXLAN_DEV=vxlan.calico
SCENARIO_POD_DEV=calic1
vni $SCENARIO_VNI
# shellcheck source=common/routed-netfilter.sh
source "$here/scenarios/common/routed-netfilter.sh"
