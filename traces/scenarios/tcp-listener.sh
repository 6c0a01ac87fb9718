# tcp-listener: one listener, three connections opening and closing, on the bridged topology
# (common/tcp-listener.sh has the scripts and their timing).
SCENARIO_VNI=42
vni $SCENARIO_VNI
# shellcheck source=common/tcp-listener.sh
source "$here/scenarios/common/tcp-listener.sh"
