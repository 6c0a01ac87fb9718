# The fragment recordings' traffic (udp-fragments, udp-outer-fragments source it after setting
# FRAGMENTS_K1_SIZE): c1 on node B, k1 and k2 on node A, VNI 42. Sends at multiples of 20 ms,
# socket events at 10 mod 20 ms:
#   k1 -> c1:5000  datagrams of FRAGMENTS_K1_SIZE bytes every 20 ms; s1 closes at 610 (drops, each
#                  answered by an ICMP port unreachable), s2 binds at 1010
#   k2 -> c1:5001  4000-byte datagrams (3 inner fragments) every 40 ms to a socket bound
#                  throughout, and small ones in between: whole frames and fragments of one flow
#                  interleave
vni 42
container b c1 42 10.233.1.2
container a k1 42 10.233.2.2
container a k2 42 10.233.2.3
duration 2300

script c1 <<'END'
10   socket s1 udp
10   bind   s1 0.0.0.0:5000
610  close  s1
1010 socket s2 udp
1010 bind   s2 0.0.0.0:5000
10   socket r1 udp
10   bind   r1 10.233.1.2:5001
2110 close  s2
2110 close  r1
2200 end
END

script k1 <<END
0   socket k1 udp
0   bind   k1 10.233.2.2:4000
100 send   k1 10.233.1.2:5000 20 100 size $FRAGMENTS_K1_SIZE
2100 end
END

script k2 <<'END'
0   socket k2 udp
0   bind   k2 10.233.2.3:4000
100 send   k2 10.233.1.2:5001 40 50 size 4000
120 send   k2 10.233.1.2:5001 40 50
2100 end
END
