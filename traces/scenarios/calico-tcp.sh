# calico-tcp: tcp-listener's connections (common/tcp-listener.sh) on a calico node, every segment
# routed by node B's host (traces/README.md, "Routed topologies").
topology calico
SCENARIO_VNI=4096
vni $SCENARIO_VNI
# shellcheck source=common/tcp-listener.sh
source "$here/scenarios/common/tcp-listener.sh"
