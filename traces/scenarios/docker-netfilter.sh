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
SCENARIO_VNI=42
vni $SCENARIO_VNI

netfilter bridge_nf_call_iptables 1
netfilter udp_timeout 3
netfilter udp_timeout_stream 6
netfilter policy forward drop
netfilter rule forward ctstate related,established accept
netfilter rule forward proto udp dport 5099 drop
netfilter rule forward in br42 out br42 accept

# shellcheck source=common/netfilter-flows.sh
source "$here/scenarios/common/netfilter-flows.sh"
