# flannel-tcp: tcp-listener's connections (common/tcp-listener.sh) on a flannel node, every segment
# routed by node B's host (traces/README.md, "Routed topologies").
topology flannel
SCENARIO_VNI=1
vni $SCENARIO_VNI
# shellcheck source=common/tcp-listener.sh
source "$here/scenarios/common/tcp-listener.sh"
