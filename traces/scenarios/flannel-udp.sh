# flannel-udp: the routed UDP scenario (common/routed-udp.sh) on a flannel node (traces/README.md,
# "Routed topologies").
topology flannel
SCENARIO_VNI=1
vni $SCENARIO_VNI
# shellcheck source=common/routed-udp.sh
source "$here/scenarios/common/routed-udp.sh"
