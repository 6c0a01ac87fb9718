# The UDP part of the routed recordings (flannel-udp, calico-udp source it after `topology` and
# `vni`): two pods on node B, two clients on node A, every frame routed by node B's host between
# the VXLAN device and the pod's veth. Sends at multiples of 20 ms, socket events at 10 mod 20 ms.
#   c1: s1 binds 0.0.0.0:5000 at 10, closes at 610 (drops, each answered by an ICMP port
#       unreachable that node B routes back through the VXLAN device), s2 binds 10.233.1.2:5000
#       at 1010 and closes at 2110, after the last datagram
#   c2: u1 binds 0.0.0.0:6000 at 10; u2 binds 0.0.0.0:6000 (SO_REUSEADDR) at 810 and connects
#       to k2 at 1210 (k2's datagrams move to u2), disconnects at 1610, closes at 1810
#   k2 also sends to c2's port 6001, where nothing is bound: every datagram a drop
container b c1 $SCENARIO_VNI 10.233.1.2
container b c2 $SCENARIO_VNI 10.233.1.3
container a k1 $SCENARIO_VNI 10.233.2.2
container a k2 $SCENARIO_VNI 10.233.2.3
duration 2300

script c1 <<'END'
10   socket s1 udp
10   bind   s1 0.0.0.0:5000
610  close  s1
1010 socket s2 udp
1010 bind   s2 10.233.1.2:5000
2110 close  s2
2200 end
END

script c2 <<'END'
10   socket u1 udp
10   bind   u1 0.0.0.0:6000 reuseaddr
810  socket u2 udp
810  bind   u2 0.0.0.0:6000 reuseaddr
1210 connect u2 10.233.2.3:4000
1610 connect u2 0.0.0.0:0
1810 close  u2
2110 close  u1
2200 end
END

script k1 <<'END'
0   socket k1 udp
0   bind   k1 10.233.2.2:4000
100 send   k1 10.233.1.2:5000 20 100
2100 end
END

script k2 <<'END'
0   socket k2 udp
0   bind   k2 10.233.2.3:4000
100 send   k2 10.233.1.3:6000 20 100
0   socket k2x udp
0   bind   k2x 10.233.2.3:4001
200 send   k2x 10.233.1.3:6001 100 15
2100 end
END
