# The tcp-listener scenario's containers and scripts, on VNI $SCENARIO_VNI: sourced by
# tcp-listener.sh (bridged) and by flannel-tcp.sh / calico-tcp.sh (routed), after `vni`.
# One listener, three connections opening and closing; the server logs every tag it reads.
# Writes at multiples of 20 ms, socket operations on both sides at 10 mod 20 ms.
#   conn ka (10.233.2.2:41001)  110..750 ms, closed by the client; the server closes on EOF
#   conn kb (10.233.2.3:41002)  230..1450 ms; the SERVER closes it at 1310 while the client still
#                               writes: the next segment reaches a closed socket (a drop, answered by
#                               RST) and the writes after it fail in the client without a frame
#   conn kc (10.233.2.2:41003)  830..2050 ms; the listener closes at 1810 and kc keeps delivering
container b c1 $SCENARIO_VNI 10.233.1.2
container a k1 $SCENARIO_VNI 10.233.2.2
container a k2 $SCENARIO_VNI 10.233.2.3
duration 2600

script c1 <<'END'
10   socket t1 tcp
10   bind   t1 0.0.0.0:7000 reuseaddr
10   listen t1 128
1310 close  t1/10.233.2.3:41002
1810 close  t1
2510 end
END

script k1 <<'END'
90   socket  ka tcp
90   bind    ka 10.233.2.2:41001
110  connect ka 10.233.1.2:7000
120  send    ka - 20 30
750  close   ka
810  socket  kc tcp
810  bind    kc 10.233.2.2:41003
830  connect kc 10.233.1.2:7000
840  send    kc - 20 60
2050 close   kc
2500 end
END

script k2 <<'END'
210  socket  kb tcp
210  bind    kb 10.233.2.3:41002
230  connect kb 10.233.1.2:7000
240  send    kb - 20 60
1450 close   kb
2500 end
END
