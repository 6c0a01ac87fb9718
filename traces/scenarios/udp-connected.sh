# udp-connected: a wildcard UDP server and, mid-run, a second socket on the same port that
# connects to one client. Two clients send throughout, each every 20 ms (sends at multiples of
# 20 ms, socket events at 10 mod 20 ms: every datagram is 10 ms from every event).
#   10 ms    s1 binds 0.0.0.0:5000 (SO_REUSEADDR)
#   810 ms   s2 binds 0.0.0.0:5000 (SO_REUSEADDR), unconnected: two sockets of equal score
#   1210 ms  s2 connects to k1 (10.233.2.2:4000)
#   1610 ms  s2 disconnects (connect AF_UNSPEC)
#   2010 ms  s2 closes
vni 42
container b c1 42 10.233.1.2
container a k1 42 10.233.2.2
container a k2 42 10.233.2.3
duration 2700

script c1 <<'END'
10   socket  s1 udp
10   bind    s1 0.0.0.0:5000 reuseaddr
810  socket  s2 udp
810  bind    s2 0.0.0.0:5000 reuseaddr
1210 connect s2 10.233.2.2:4000
1610 connect s2 0.0.0.0:0
2010 close   s2
2610 end
END

script k1 <<'END'
0   socket k1 udp
0   bind   k1 10.233.2.2:4000
100 send   k1 10.233.1.2:5000 20 125
2600 end
END

script k2 <<'END'
0   socket k2 udp
0   bind   k2 10.233.2.3:4000
100 send   k2 10.233.1.2:5000 20 125
2600 end
END
