# udp-churn: 20 UDP ports (5000..5019) in one container, each opened and closed twice on a
# staggered schedule, under steady traffic from two clients cycling over all 20 ports (k1 every
# 20 ms, k2 every 40 ms, so they hit different ports at the same instant). Port 5000+p: socket
# u<p>a is open from 110+60p ms for 1 s; u<p>b reopens 300 ms after that for 600 ms, bound to
# 10.233.1.2 on even ports and to 0.0.0.0 with SO_REUSEADDR on odd ones.
# Sends at multiples of 20 ms, socket events at 10 mod 20 ms.
vni 42
container b c1 42 10.233.1.2
container a k1 42 10.233.2.2
container a k2 42 10.233.2.3
duration 3300

churn_server() {
	local p open
	for p in $(seq 0 19); do
		open=$((110 + 60 * p))
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
	echo "3210 end"
}
churn_server | script c1

script k1 <<'END'
0   socket k1 udp
0   bind   k1 10.233.2.2:4000
100 send   k1 10.233.1.2:5000 20 155 ports 20
3200 end
END

script k2 <<'END'
0   socket k2 udp
0   bind   k2 10.233.2.3:4000
100 send   k2 10.233.1.2:5000 40 78 ports 20
3200 end
END
