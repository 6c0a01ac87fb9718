# calico-udp: the routed UDP scenario (common/routed-udp.sh) on a calico node (traces/README.md,
# "Routed topologies").
topology calico
SCENARIO_VNI=4096
vni $SCENARIO_VNI
# shellcheck source=common/routed-udp.sh
source "$here/scenarios/common/routed-udp.sh"
