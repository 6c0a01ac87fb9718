# udp-reopen: a UDP port closed and reopened while one client keeps sending to it.
# Client k1 sends a datagram every 20 ms (times ≡ 0 mod 10 ms); server events sit at ≡ 5 mod 10 ms.
# Datagrams that arrive while no socket holds the port are drops (and draw an ICMP port unreachable).
vni 42
container b c1 42 10.233.1.2
container a k1 42 10.233.2.2
duration 2200

script c1 <<'END'
5    socket s1 udp
5    bind   s1 0.0.0.0:5000
505  close  s1
# closed for 400 ms: about 20 drops
905  socket s2 udp
905  bind   s2 10.233.1.2:5000
1405 close  s2
# closed again, then a wildcard socket with SO_REUSEADDR takes the port back
1605 socket s3 udp
1605 bind   s3 0.0.0.0:5000 reuseaddr
2105 close  s3
2150 end
END

script k1 <<'END'
0   socket k1 udp
0   bind   k1 10.233.2.2:4000
100 send   k1 10.233.1.2:5000 20 100
2100 end
END
