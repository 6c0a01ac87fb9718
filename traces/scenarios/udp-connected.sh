# udp-connected: a wildcard UDP server and, mid-run, a second socket on the same port that
# connects to one client. Two clients send throughout (k1 at ≡0 mod 20 ms, k2 at ≡10 mod 20 ms);
# every server event sits at ≡5 mod 10 ms, so no datagram races an event.
#   5 ms     s1 binds 0.0.0.0:5000 (SO_REUSEADDR)
#   805 ms   s2 binds 0.0.0.0:5000 (SO_REUSEADDR), unconnected: two sockets of equal score
#   1205 ms  s2 connects to k1 (10.233.2.2:4000)
#   1605 ms  s2 disconnects (AF_UNSPEC)
#   2005 ms  s2 closes
vni 42
container b c1 42 10.233.1.2
container a k1 42 10.233.2.2
container a k2 42 10.233.2.3
duration 2700

script c1 <<'END'
5    socket  s1 udp
5    bind    s1 0.0.0.0:5000 reuseaddr
805  socket  s2 udp
805  bind    s2 0.0.0.0:5000 reuseaddr
1205 connect s2 10.233.2.2:4000
1605 connect s2 0.0.0.0:0
2005 close   s2
2605 end
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
110 send   k2 10.233.1.2:5000 20 125
2600 end
END
