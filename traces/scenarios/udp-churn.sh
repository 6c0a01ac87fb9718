# udp-churn: 20 UDP ports (5000..5019) in one container, each opened and closed twice on a
# staggered schedule, under steady traffic from two clients that cycle over all 20 ports
# (k1 every 10 ms, k2 every 20 ms). Port 5000+p: socket u<p>a is open from 105+50p ms for 1 s;
# u<p>b reopens 300 ms after that for 600 ms, bound to 10.233.1.2 on even ports and to 0.0.0.0
# with SO_REUSEADDR on odd ones. Socket events sit at ≡5 mod 10 ms, sends at ≡0 mod 10 ms.
vni 42
container b c1 42 10.233.1.2
container a k1 42 10.233.2.2
container a k2 42 10.233.2.3
duration 3100

churn_server() {
	local p open
	for p in $(seq 0 19); do
		open=$((105 + 50 * p))
		printf '%d socket u%02da udp\n%d bind u%02da 0.0.0.0:%d\n' $open $p $open $p $((5000 + p))
		printf '%d close u%02da\n' $((open + 1000)) $p
		open=$((open + 1300))
		if ((p % 2 == 0)); then
			printf '%d socket u%02db udp\n%d bind u%02db 10.233.1.2:%d\n' $open $p $open $p $((5000 + p))
		else
			printf '%d socket u%02db udp\n%d bind u%02db 0.0.0.0:%d reuseaddr\n' $open $p $open $p $((5000 + p))
		fi
		printf '%d close u%02db\n' $((open + 600)) $p
	done
	echo "3005 end"
}
churn_server | script c1

script k1 <<'END'
0   socket k1 udp
0   bind   k1 10.233.2.2:4000
100 send   k1 10.233.1.2:5000 10 290 ports 20
3000 end
END

script k2 <<'END'
0   socket k2 udp
0   bind   k2 10.233.2.3:4000
110 send   k2 10.233.1.2:5000 20 145 ports 20
3000 end
END
