# docker-netfilter: node B as a Docker host: br_netfilter passes bridged frames through iptables,
# FORWARD drops by default and accepts replies (conntrack) and traffic between the bridge's ports,
# except NEW UDP to port 5099. Short conntrack UDP timeouts (3 s, 6 s once a stream) let an entry
# expire within the recording. Server c1 on node B; clients k1 and k2 on node A.
# Timing (as every scenario): sends at multiples of 20 ms, socket events at 10 mod 20 ms.
#   flow 1  k1 10.233.2.2:4000 -> c1:5000, 100 datagrams 100..2080 ms: NEW, accepted by
#           "-i br42 -o br42" (never a reply: the entry stays unreplied), all delivered to s1
#   flow 2  k2 10.233.2.3:4000 -> c1:5099, 20 datagrams 1000..1380 ms: NEW, dropped by the dport
#           5099 rule although s2 is bound to the port (no ICMP: the host drops them, not c1)
#   flow 3  c1's s2 (0.0.0.0:5099) sends to k1:4099 at 200 ms (through the bridge: the entry
#           c1 -> k1 is created, NEW accepted by the bridge rule); k1 answers from 4099 every 100 ms,
#           240..3140 ms: replies, ESTABLISHED, delivered to s2. Replies 2 s after the entry was
#           made (2240 on) give it udp_timeout_stream (6 s): it expires about 9140 ms. Both sides
#           silent until k1 sends again at 10400..10580 (10 datagrams): NEW, dropped by the 5099 rule.
#           At 10800 c1 sends to k1 again (a new entry) and k1's 10 datagrams from 10840 are
#           replies again: delivered.
#   flow 4  k2 10.233.2.3:41001 -> c1:7000 (TCP), connect 1510, 30 writes 1520..2100, close 2150:
#           the SYN is NEW, accepted by the bridge rule; the rest is ESTABLISHED: all delivered.
vni 42
container b c1 42 10.233.1.2
container a k1 42 10.233.2.2
container a k2 42 10.233.2.3
duration 11200

netfilter bridge_nf_call_iptables 1
netfilter udp_timeout 3
netfilter udp_timeout_stream 6
netfilter policy forward drop
netfilter rule forward ctstate related,established accept
netfilter rule forward proto udp dport 5099 drop
netfilter rule forward in br42 out br42 accept

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
