# The flows of the netfilter recordings (docker-netfilter, flannel-netfilter, calico-netfilter
# source it after `topology`, `vni`, setting SCENARIO_VNI and their `netfilter` lines): server c1 on
# node B, clients k1 and k2 on node A, docker-netfilter.sh's timeline (traces/README.md).
container b c1 $SCENARIO_VNI 10.233.1.2
container a k1 $SCENARIO_VNI 10.233.2.2
container a k2 $SCENARIO_VNI 10.233.2.3
duration 11200

script c1 <<'END'
10    socket s1 udp
10    bind   s1 0.0.0.0:5000
10    socket s2 udp
10    bind   s2 0.0.0.0:5099
10    socket t1 tcp
10    bind   t1 0.0.0.0:7000 reuseaddr
10    listen t1 128
200   send   s2 10.233.2.2:4099 20 1
10800 send   s2 10.233.2.2:4099 20 1
11110 end
END

script k1 <<'END'
0     socket u1 udp
0     bind   u1 10.233.2.2:4000
0     socket q1 udp
0     bind   q1 10.233.2.2:4099
100   send   u1 10.233.1.2:5000 20 100
240   send   q1 10.233.1.2:5099 100 30
10400 send   q1 10.233.1.2:5099 20 10
10840 send   q1 10.233.1.2:5099 20 10
11100 end
END

script k2 <<'END'
0     socket p2 udp
0     bind   p2 10.233.2.3:4000
1000  send   p2 10.233.1.2:5099 20 20
1490  socket kt tcp
1490  bind   kt 10.233.2.3:41001
1510  connect kt 10.233.1.2:7000
1520  send   kt - 20 30
2150  close  kt
11100 end
END
