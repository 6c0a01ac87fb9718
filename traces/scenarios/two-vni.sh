# two-vni: two tenants (VNI 42 and 43) whose containers use the same inner addresses and ports.
# Server c42 (VNI 42) and c43 (VNI 43) are both 10.233.1.2; clients k42 and k43 are both
# 10.233.2.2:4000 and send at the same instants, so the inner 5-tuples are identical and only the
# VNI tells the tenants apart. Tenant 43's port closes for 500 ms and reopens bound to the specific
# address; tenant 42's socket stays open throughout. Sends at multiples of 20 ms, events at 10 mod 20.
vni 42 43
container b c42 42 10.233.1.2
container b c43 43 10.233.1.2
container a k42 42 10.233.2.2
container a k43 43 10.233.2.2
duration 2200

script c42 <<'END'
10   socket s42 udp
10   bind   s42 0.0.0.0:5000
2110 end
END

script c43 <<'END'
10   socket s43a udp
10   bind   s43a 0.0.0.0:5000
710  close  s43a
1210 socket s43b udp
1210 bind   s43b 10.233.1.2:5000
2110 end
END

script k42 <<'END'
0   socket k42 udp
0   bind   k42 10.233.2.2:4000
100 send   k42 10.233.1.2:5000 20 100
2100 end
END

script k43 <<'END'
0   socket k43 udp
0   bind   k43 10.233.2.2:4000
100 send   k43 10.233.1.2:5000 20 100
2100 end
END
