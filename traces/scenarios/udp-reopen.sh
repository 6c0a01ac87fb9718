# udp-reopen: a UDP port closed and reopened while one client keeps sending to it.
# Timing (every scenario): sends at multiples of 20 ms, socket events at 10 mod 20 ms, so every
# datagram is at least 10 ms from every event. Datagrams that arrive while no socket holds the
# port are drops (each answered with an ICMP port unreachable, which is in the capture).
#   10 ms    s1 binds 0.0.0.0:5000          510 ms  s1 closes (drops for 400 ms)
#   910 ms   s2 binds 10.233.1.2:5000       1410 ms s2 closes (drops for 200 ms)
#   1610 ms  s3 binds 0.0.0.0:5000 with SO_REUSEADDR; closes at 2110, after the last datagram
vni 42
container b c1 42 10.233.1.2
container a k1 42 10.233.2.2
duration 2200

script c1 <<'END'
10   socket s1 udp
10   bind   s1 0.0.0.0:5000
510  close  s1
910  socket s2 udp
910  bind   s2 10.233.1.2:5000
1410 close  s2
1610 socket s3 udp
1610 bind   s3 0.0.0.0:5000 reuseaddr
2110 close  s3
2150 end
END

script k1 <<'END'
0   socket k1 udp
0   bind   k1 10.233.2.2:4000
100 send   k1 10.233.1.2:5000 20 100
2100 end
END
