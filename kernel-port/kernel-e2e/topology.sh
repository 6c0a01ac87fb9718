#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Inside the test VM (busybox sh, iproute2's ip and bridge): the two-node
# VXLAN overlay of traces/record (traces/README.md, "Topology"), in network
# namespaces, with the two tenants of its two-vni scenario:
#
#   node a (clients)                               node b (servers)
#   eth0 192.168.0.1 ────── underlay veth ──────── eth0 192.168.0.2
#   vxlan42 ── br42 ── veth-k42a ─ k42a 10.233.2.2   vxlan42 ── br42 ── veth-c42 ─ c42 10.233.1.2
#                   └─ veth-k42b ─ k42b 10.233.2.3
#   vxlan43 ── br43 ── veth-k43 ── k43  10.233.2.2   vxlan43 ── br43 ── veth-c43 ─ c43 10.233.1.2
#
# VXLAN: dstport 4789, local/remote the nodes, nolearning; bridges: STP and
# multicast snooping off; static FDB entries and neighbours everywhere (no
# ARP, no flooding). One difference from traces/record: the VXLAN bridge
# ports do not learn (`bridge link set dev vxlanN learning off`), so that
# learning changes no FDB entry behind the other scenarios' backs; fpe2e's
# learning scenario turns it on for vxlan42 on node b.
# One addition: 02:2a:0a:e9:01:99, a MAC nobody has, forwarded on VNI 42 to
# c42's veth (fpe2e's mac scenario: frames the bridge sends to c42 that its
# eth0 drops).
#
# $fpe2e_break (kernel command line fpe2e_break=, FPE2E_BREAK in ./run)
# breaks the setup on purpose, to show fpe2e's checks failing (fpe2e.c).
set -eu

# iproute2's, not busybox's applets (its shell runs applets before searching PATH).
ip() { /sbin/ip "$@"; }
bridge() { /sbin/bridge "$@"; }

NODE_A_IP=192.168.0.1 NODE_B_IP=192.168.0.2
NODE_A_MAC=02:00:00:00:00:01 NODE_B_MAC=02:00:00:00:00:02
INNER_MTU=1450

new_ns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv4.icmp_ratemask=0
}

new_ns a
new_ns b
ip -n a link add eth0 address $NODE_A_MAC type veth peer name eth0 address $NODE_B_MAC netns b
ip -n a addr add $NODE_A_IP/24 dev eth0
ip -n b addr add $NODE_B_IP/24 dev eth0
ip -n a neigh add $NODE_B_IP lladdr $NODE_B_MAC dev eth0 nud permanent
ip -n b neigh add $NODE_A_IP lladdr $NODE_A_MAC dev eth0 nud permanent
ip -n a link set eth0 up
ip -n b link set eth0 up

for side in a b; do
	if [ $side = a ]; then n=1 local_ip=$NODE_A_IP remote_ip=$NODE_B_IP
	else n=2 local_ip=$NODE_B_IP remote_ip=$NODE_A_IP; fi
	for v in 42 43; do
		vx=$(printf '%02x' $v)
		ip -n $side link add br$v address 02:00:00:0$n:01:$vx type bridge stp_state 0 mcast_snooping 0
		ip -n $side link add vxlan$v address 02:00:00:0$n:00:$vx type vxlan \
			id $v dstport 4789 local $local_ip remote $remote_ip dev eth0 nolearning
		ip -n $side link set vxlan$v master br$v
		bridge -n $side link set dev vxlan$v learning off
		ip -n $side link set vxlan$v up
		ip -n $side link set br$v up
	done
done

# container NAME NODE VNI IP MAC
container() {
	ip netns add $1
	ip -n $1 link set lo up
	ip netns exec $1 sysctl -qw net.ipv4.icmp_ratemask=0
	ip -n $2 link add veth-$1 mtu $INNER_MTU type veth peer name eth0 address $5 mtu $INNER_MTU netns $1
	ip -n $2 link set veth-$1 master br$3 up
	ip -n $1 addr add $4/16 dev eth0
	ip -n $1 link set eth0 up
	ip -n $1 route replace 10.233.0.0/16 dev eth0 proto kernel scope link src $4 quickack 1
}
container c42 b 42 10.233.1.2 02:2a:0a:e9:01:02
container c43 b 43 10.233.1.2 02:2b:0a:e9:01:02
container k42a a 42 10.233.2.2 02:2a:0a:e9:02:02
container k42b a 42 10.233.2.3 02:2a:0a:e9:02:03
container k43 a 43 10.233.2.2 02:2b:0a:e9:02:02

# fdb NAME NODE VNI MAC: on its node to its veth, on the other node to the VXLAN port
fdb() {
	other=a
	[ $2 = a ] && other=b
	bridge -n $2 fdb add $4 dev veth-$1 master static
	bridge -n $other fdb add $4 dev vxlan$3 master static
}
fdb c42 b 42 02:2a:0a:e9:01:02
fdb c43 b 43 02:2b:0a:e9:01:02
fdb k42a a 42 02:2a:0a:e9:02:02
fdb k42b a 42 02:2a:0a:e9:02:03
fdb k43 a 43 02:2b:0a:e9:02:02
fdb c42 b 42 02:2a:0a:e9:01:99

# neigh NS IP MAC
neigh() { ip -n $1 neigh replace $2 lladdr $3 dev eth0 nud permanent; }
neigh c42 10.233.2.2 02:2a:0a:e9:02:02
neigh c42 10.233.2.3 02:2a:0a:e9:02:03
neigh c43 10.233.2.2 02:2b:0a:e9:02:02
neigh k42a 10.233.1.2 02:2a:0a:e9:01:02
neigh k42b 10.233.1.2 02:2a:0a:e9:01:02
neigh k43 10.233.1.2 02:2b:0a:e9:01:02

# Overlays nested in overlays (fpe2e's nested scenario): a VXLAN device inside
# a container, bridged to a container of its own, three levels deep under
# c42 (node b) and k42a (node a). Level L is VNI L, in the namespaces nLb
# (10.L.1.2) and nLa (10.L.2.2); each level's MTU is its parent's less the 50
# bytes of VXLAN over IPv4.
# nest L PARENT_B PARENT_A MTU
nest() {
	for side in b a; do
		if [ $side = b ]; then parent=$2 local=$(nest_ip $2) remote=$(nest_ip $3) n=1
		else parent=$3 local=$(nest_ip $3) remote=$(nest_ip $2) n=2; fi
		ip -n $parent link add br$1 address 02:0$1:00:0$n:01:00 type bridge stp_state 0 mcast_snooping 0
		ip -n $parent link add vx$1 address 02:0$1:00:0$n:00:00 mtu $4 type vxlan \
			id $1 dstport 4789 local $local remote $remote dev eth0 nolearning
		ip -n $parent link set vx$1 master br$1
		bridge -n $parent link set dev vx$1 learning off
		ip -n $parent link set vx$1 up
		ip -n $parent link set br$1 up
		ip netns add n$1$side
		ip -n n$1$side link set lo up
		ip -n $parent link add veth-n$1$side mtu $4 type veth peer name eth0 \
			address 02:0$1:0a:0$1:0$n:02 mtu $4 netns n$1$side
		ip -n $parent link set veth-n$1$side master br$1 up
		ip -n n$1$side addr add 10.$1.$n.2/16 dev eth0
		ip -n n$1$side link set eth0 up
	done
	for side in b a; do
		if [ $side = b ]; then parent=$2 n=1 o=2 other=a; else parent=$3 n=2 o=1 other=b; fi
		bridge -n $parent fdb add 02:0$1:0a:0$1:0$n:02 dev veth-n$1$side master static
		bridge -n $parent fdb add 02:0$1:0a:0$1:0$o:02 dev vx$1 master static
		ip -n n$1$side neigh replace 10.$1.$o.2 lladdr 02:0$1:0a:0$1:0$o:02 dev eth0 nud permanent
	done
}
# nest_ip NS: the container address a nested VXLAN uses as its local address
nest_ip() {
	case $1 in
	c42) echo 10.233.1.2 ;;
	k42a) echo 10.233.2.2 ;;
	*) ip -n $1 -4 -o addr show dev eth0 | sed 's/.*inet \([0-9.]*\)\/.*/\1/' ;;
	esac
}
nest 7 c42 k42a 1400
nest 8 n7b n7a 1350
nest 9 n8b n8a 1300

# A routed overlay (flannel's VXLAN backend, Calico's VXLAN mode): VNI 44 on a
# VXLAN device with an address and no bridge on each node (10.244.0.0 on a,
# 10.244.1.0 on b), the other node's pod range routed through it onlink to
# that device's address, its MAC static in the neighbours and the FDB; on node
# b (forwarding on) the container r44 10.244.1.2 behind a routed veth
# (fpe2e's routed scenario: frames the series cannot cache take no ticket).
ip netns exec b sysctl -qw net.ipv4.ip_forward=1
for side in a b; do
	if [ $side = a ]; then n=1 o=2 me=0 peer=1 remote_ip=$NODE_B_IP local_ip=$NODE_A_IP
	else n=2 o=1 me=1 peer=0 remote_ip=$NODE_A_IP local_ip=$NODE_B_IP; fi
	ip -n $side link add vxlan44 address 02:00:00:0$n:00:2c type vxlan \
		id 44 dstport 4789 local $local_ip dev eth0 nolearning
	ip -n $side addr add 10.244.$me.0/32 dev vxlan44
	ip -n $side link set vxlan44 up
	ip -n $side route add 10.244.$peer.0/24 via 10.244.$peer.0 dev vxlan44 onlink
	ip -n $side neigh add 10.244.$peer.0 lladdr 02:00:00:0$o:00:2c dev vxlan44 nud permanent
	bridge -n $side fdb add 02:00:00:0$o:00:2c dev vxlan44 dst $remote_ip
done
ip netns add r44
ip -n r44 link set lo up
ip -n b link add veth-r44 address 02:2c:0a:f4:01:01 mtu $INNER_MTU type veth \
	peer name eth0 address 02:2c:0a:f4:01:02 mtu $INNER_MTU netns r44
ip -n b addr add 10.244.1.1/24 dev veth-r44
ip -n b link set veth-r44 up
ip -n b neigh add 10.244.1.2 lladdr 02:2c:0a:f4:01:02 dev veth-r44 nud permanent
ip -n r44 addr add 10.244.1.2/24 dev eth0
ip -n r44 link set eth0 up
ip -n r44 route add default via 10.244.1.1
ip -n r44 neigh add 10.244.1.1 lladdr 02:2c:0a:f4:01:01 dev eth0 nud permanent

# flannel's shape on the same routed overlay: node b routes 10.244.2.0/24 to
# the bridge cni44, whose port veth-f44 leads to the container f44
# 10.244.2.2; the bridge's FDB entry and node b's neighbour for it static
# (fpe2e's routed-bridge scenario).
ip -n a route add 10.244.2.0/24 via 10.244.1.0 dev vxlan44 onlink
ip -n b link add cni44 address 02:2c:0a:f4:02:01 type bridge
ip -n b addr add 10.244.2.1/24 dev cni44
ip netns add f44
ip -n f44 link set lo up
ip -n b link add veth-f44 address 02:2c:0a:f4:02:03 mtu $INNER_MTU type veth \
	peer name eth0 address 02:2c:0a:f4:02:02 mtu $INNER_MTU netns f44
ip -n b link set veth-f44 master cni44 up
ip -n b link set cni44 up
bridge -n b fdb add 02:2c:0a:f4:02:02 dev veth-f44 master static
ip -n b neigh add 10.244.2.2 lladdr 02:2c:0a:f4:02:02 dev cni44 nud permanent
ip -n f44 addr add 10.244.2.2/24 dev eth0
ip -n f44 link set eth0 up
ip -n f44 route add default via 10.244.2.1
ip -n f44 neigh add 10.244.2.1 lladdr 02:2c:0a:f4:02:01 dev eth0 nud permanent

echo "topology: nodes a, b; containers c42 c43 (b), k42a k42b k43 (a); VNIs 42, 43; nested n7-n9 a/b; routed VNI 44 to r44 and, through cni44, f44 (b)"
