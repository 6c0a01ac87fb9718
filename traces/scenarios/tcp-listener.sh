# tcp-listener: one listener, three connections opening and closing; the server logs every tag it
# reads. Socket operations on both sides sit at ≡5 mod 10 ms, writes at ≡0 mod 10 ms.
#   conn ka (10.233.2.2:41001)  105..755 ms, closed by the client; the server closes on EOF
#   conn kb (10.233.2.3:41002)  215..1455 ms; the SERVER closes it at 1305 while the client still
#                               writes: the next segment reaches a closed socket (a drop, answered by
#                               RST) and the writes after it fail in the client without a frame
#   conn kc (10.233.2.2:41003)  815..2055 ms; the listener closes at 1805 and kc keeps delivering
vni 42
container b c1 42 10.233.1.2
container a k1 42 10.233.2.2
container a k2 42 10.233.2.3
duration 2600

script c1 <<'END'
5    socket t1 tcp
5    bind   t1 0.0.0.0:7000 reuseaddr
5    listen t1 128
1305 close  t1/10.233.2.3:41002
1805 close  t1
2505 end
END

script k1 <<'END'
95   socket  ka tcp
95   bind    ka 10.233.2.2:41001
105  connect ka 10.233.1.2:7000
120  send    ka - 20 30
755  close   ka
805  socket  kc tcp
805  bind    kc 10.233.2.2:41003
815  connect kc 10.233.1.2:7000
830  send    kc - 20 60
2055 close   kc
2500 end
END

script k2 <<'END'
205  socket  kb tcp
205  bind    kb 10.233.2.3:41002
215  connect kb 10.233.1.2:7000
230  send    kb - 20 60
1455 close   kb
2500 end
END
