// SPDX-License-Identifier: GPL-2.0
/*
 * fpe2e: the overlay fastpath, end to end, inside the test VM.
 *
 * Runs on the topology of topology.sh (network namespaces a, b, c42, c43,
 * k42a, k42b, k43 under /run/netns). Every datagram or TCP record carries a
 * unique tag; the test knows which socket should get it (or that nobody
 * should) and, after each send, looks at every open server socket: a tag on
 * the wrong socket, or on any socket when it should have been dropped, is a
 * wrong delivery; a tag that does not arrive where it should is a miss.
 * The expectations are those of vanilla Linux, which the simulator's `fixed`
 * mode predicts for these scenarios (traces/README.md: udp-reopen,
 * udp-connected, two-vni, tcp-listener), plus what the map's counters in
 * /proc/net/fpmap_stat must show (hits, stale entries, invalidations).
 *
 * Prints one line per check, "PASS name" or "FAIL name: why", the counters,
 * and last "fpe2e: N passed, M failed". Exit status: 0 if M is 0.
 * Pinned to CPU 0: the map is per CPU, so hits need the flow's frames on the
 * CPU that cached it; the veth underlay processes a frame on the sender's CPU.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STAT_FILE "/proc/net/fpmap_stat"
#define MAX_SOCKS 32

static int passed, failed;
static int wrong_deliveries, misses;
static int root_ns = -1;
static int tag_counter;

struct server {
	int fd;
	char name[32];
	bool open;
};

static struct server servers[MAX_SOCKS];
static int nservers;

static void check(bool ok, const char *name, const char *fmt, ...)
{
	char why[256] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ok) {
		passed++;
		printf("PASS %s%s%s\n", name, *why ? ": " : "", why);
	} else {
		failed++;
		printf("FAIL %s: %s\n", name, why);
	}
	fflush(stdout);
}

static void die(const char *what)
{
	printf("FAIL setup: %s: %s\n", what, strerror(errno));
	printf("fpe2e: %d passed, %d failed\n", passed, failed + 1);
	exit(1);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void enter(const char *ns)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die(path);
	close(fd);
}

static void leave(void)
{
	if (setns(root_ns, CLONE_NEWNET))
		die("setns back to the initial namespace");
}

/* A run of a shell command (ip, bridge) from the initial namespace. */
static int sh(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- counters ---------------------------------------------------------- */

struct stats {
	char names[64][32];
	long long values[64];
	int n;
};

static void read_stats(struct stats *s)
{
	char line[128];
	FILE *f;

	leave();
	s->n = 0;
	f = fopen(STAT_FILE, "r");
	if (!f)
		die(STAT_FILE);
	while (s->n < 64 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s %lld", s->names[s->n], &s->values[s->n]) == 2)
			s->n++;
	fclose(f);
}

static long long stat_get(const struct stats *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->names[i], name))
			return s->values[i];
	printf("FAIL counters: no \"%s\" in %s\n", name, STAT_FILE);
	failed++;
	return -1;
}

static long long delta(const struct stats *after, const struct stats *before, const char *name)
{
	return stat_get(after, name) - stat_get(before, name);
}

static void print_stats(const char *when)
{
	struct stats s;
	int i;

	read_stats(&s);
	printf("counters %s:", when);
	for (i = 0; i < s.n; i++)
		if (s.values[i])
			printf(" %s=%lld", s.names[i], s.values[i]);
	printf("\n");
}

static void write_sysctl(const char *path, const char *value)
{
	int fd;

	leave();
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		die(path);
	close(fd);
}

/* ---- sockets ----------------------------------------------------------- */

static void sockaddr_of(struct sockaddr_in *sa, const char *ip, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
		die(ip);
}

static int bound_socket(const char *ns, int type, const char *ip, int port, bool reuse)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	enter(ns);
	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("SO_REUSEADDR");
	sockaddr_of(&sa, ip, port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind");
	leave();
	return fd;
}

static struct server *server_udp(const char *name, const char *ns, const char *ip,
				 int port, bool reuse)
{
	struct server *s;

	if (nservers == MAX_SOCKS)
		die("too many sockets");
	s = &servers[nservers++];
	s->fd = bound_socket(ns, SOCK_DGRAM, ip, port, reuse);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->open = true;
	return s;
}

static void server_close(struct server *s)
{
	close(s->fd);
	s->open = false;
}

static void connect_to(int fd, const char *ip, int port)
{
	struct sockaddr_in sa;

	sockaddr_of(&sa, ip, port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
}

static void next_tag(char *tag)
{
	snprintf(tag, 64, "TAG%06d", ++tag_counter);
}

/* Reads whatever is queued on @s now; returns true and the tag if any. */
static bool try_recv(struct server *s, char *tag, int timeout_ms)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	char buf[64];
	ssize_t n;

	if (!s->open || poll(&p, 1, timeout_ms) != 1)
		return false;
	n = recv(s->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n <= 0)
		return false;
	buf[n] = 0;
	snprintf(tag, 64, "%s", buf);
	return true;
}

/*
 * One datagram from @client to ip:port; @expect is the socket that must get
 * it, NULL if nobody may. Every open server socket is looked at.
 */
static bool udp_one(const char *what, int client, const char *ip, int port,
		    struct server *expect)
{
	struct sockaddr_in sa;
	char tag[64], got[64];
	bool ok = true, arrived = false;
	int i;

	next_tag(tag);
	sockaddr_of(&sa, ip, port);
	if (sendto(client, tag, strlen(tag), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("sendto");
	if (expect && try_recv(expect, got, 2000)) {
		if (strcmp(got, tag)) {
			printf("  %s: %s got %s, expected %s\n", what, expect->name, got, tag);
			ok = false;
		}
		arrived = true;
	}
	if (!expect)
		sleep_ms(150);
	for (i = 0; i < nservers; i++) {
		while (try_recv(&servers[i], got, 0)) {
			printf("  %s: wrong delivery: %s to %s (expected %s)\n", what, got,
			       servers[i].name, expect ? expect->name : "nobody");
			wrong_deliveries++;
			ok = false;
		}
	}
	if (expect && !arrived) {
		printf("  %s: %s never reached %s\n", what, tag, expect->name);
		misses++;
		ok = false;
	}
	return ok;
}

/* @count datagrams, 20 ms apart; returns how many went as expected. */
static int udp_run(const char *what, int client, const char *ip, int port,
		   struct server *expect, int count)
{
	int i, good = 0;

	for (i = 0; i < count; i++) {
		good += udp_one(what, client, ip, port, expect);
		sleep_ms(20);
	}
	return good;
}

static int udp_client(const char *ns, const char *ip, int port)
{
	return bound_socket(ns, SOCK_DGRAM, ip, port, true);
}

/*
 * @rounds times, 20 ms apart: a datagram from @c1 (for @e1) and one from @c2
 * (for @e2) to ip:port; returns how many went as expected.
 */
static int udp_pair(const char *what, int c1, struct server *e1, int c2,
		    struct server *e2, const char *ip, int port, int rounds)
{
	int i, good = 0;

	for (i = 0; i < rounds; i++) {
		good += udp_one(what, c1, ip, port, e1);
		good += udp_one(what, c2, ip, port, e2);
		sleep_ms(20);
	}
	return good;
}

/* ---- scenarios ----------------------------------------------------------- */

static struct server *s2;

static void scenario_udp_basic(void)
{
	struct stats b, a;
	struct server *s1;
	int k, good;

	read_stats(&b);
	s1 = server_udp("s1", "c42", "0.0.0.0", 5000, false);
	k = udp_client("k42a", "10.233.2.2", 4000);
	good = udp_run("udp-basic", k, "10.233.1.2", 5000, s1, 20);
	read_stats(&a);
	check(good == 20, "udp-basic: 20 datagrams to s1", "%d of 20", good);
	check(delta(&a, &b, "inserts") >= 1, "udp-basic: the flow was cached",
	      "inserts +%lld", delta(&a, &b, "inserts"));
	check(delta(&a, &b, "hits") > 0 && delta(&a, &b, "delivered") > 0,
	      "udp-basic: fast-path hits", "hits +%lld, delivered +%lld",
	      delta(&a, &b, "hits"), delta(&a, &b, "delivered"));

	/* close: no delivery to the closed socket, its entries gone */
	read_stats(&b);
	server_close(s1);
	read_stats(&a);
	check(stat_get(&b, "entries") > 0 && stat_get(&a, "entries") == 0,
	      "close: the socket's entries are gone", "entries %lld -> %lld",
	      stat_get(&b, "entries"), stat_get(&a, "entries"));
	check(delta(&a, &b, "event_sock_close") >= 1, "close: counted",
	      "sock_close +%lld", delta(&a, &b, "event_sock_close"));
	good = udp_run("closed", k, "10.233.1.2", 5000, NULL, 3);
	check(good == 3, "close: nothing delivered while the port is closed", "%d of 3 dropped", good);

	read_stats(&b);
	s2 = server_udp("s2", "c42", "10.233.1.2", 5000, false);
	good = udp_run("reopen", k, "10.233.1.2", 5000, s2, 10);
	read_stats(&a);
	check(good == 10, "reopen: 10 datagrams to s2", "%d of 10", good);
	check(delta(&a, &b, "hits") > 0, "reopen: fast path again", "hits +%lld",
	      delta(&a, &b, "hits"));
	close(k);
}

static void scenario_connect_shadowing(void)
{
	struct server *sw, *sc;
	struct stats b, a;
	int k1, k2, good;

	sw = server_udp("sw", "c42", "0.0.0.0", 6000, true);
	k1 = udp_client("k42a", "10.233.2.2", 4000);
	k2 = udp_client("k42b", "10.233.2.3", 4000);
	read_stats(&b);
	good = udp_pair("wildcard", k1, sw, k2, sw, "10.233.1.2", 6000, 6);
	read_stats(&a);
	check(good == 12, "connect: 12 datagrams to the wildcard socket", "%d of 12", good);
	check(delta(&a, &b, "hits") > 0, "connect: both flows cached and hit",
	      "hits +%lld", delta(&a, &b, "hits"));

	/* A second socket on the port, connected to k42a: it gets k42a's datagrams. */
	read_stats(&b);
	sc = server_udp("sc", "c42", "0.0.0.0", 6000, true);
	connect_to(sc->fd, "10.233.2.2", 4000);
	read_stats(&a);
	check(delta(&a, &b, "event_sock_rebind") >= 2, "connect: bind and connect invalidate",
	      "sock_rebind +%lld", delta(&a, &b, "event_sock_rebind"));
	read_stats(&b);
	good = udp_pair("connected", k1, sc, k2, sw, "10.233.1.2", 6000, 6);
	read_stats(&a);
	check(good == 12, "connect: k42a's to the connected socket, k42b's to the wildcard",
	      "%d of 12", good);
	check(delta(&a, &b, "stale") >= 1, "connect: the cached flows went stale",
	      "stale +%lld", delta(&a, &b, "stale"));
	check(delta(&a, &b, "hits") > 0, "connect: cached again and hit",
	      "hits +%lld", delta(&a, &b, "hits"));

	server_close(sc);
	good = udp_run("connected closed", k1, "10.233.1.2", 6000, sw, 5);
	check(good == 5, "connect: after the connected socket closed, back to the wildcard",
	      "%d of 5", good);
	server_close(sw);
	close(k1);
	close(k2);
}

static void scenario_device_down(void)
{
	struct stats b, a;
	int k, good;

	k = udp_client("k42a", "10.233.2.2", 4000);
	good = udp_run("warm", k, "10.233.1.2", 5000, s2, 5);
	check(good == 5, "down: warm-up to s2", "%d of 5", good);
	read_stats(&b);
	if (sh("/sbin/ip -n b link set veth-c42 down"))
		die("ip link set veth-c42 down");
	good = udp_run("veth down", k, "10.233.1.2", 5000, NULL, 5);
	read_stats(&a);
	check(good == 5, "down: nothing delivered through the downed veth", "%d of 5 dropped", good);
	check(delta(&a, &b, "event_dev_down") >= 1, "down: counted",
	      "dev_down +%lld", delta(&a, &b, "event_dev_down"));
	check(delta(&a, &b, "delivered") == 0, "down: no fast-path delivery while down",
	      "delivered +%lld", delta(&a, &b, "delivered"));
	if (sh("/sbin/ip -n b link set veth-c42 up"))
		die("ip link set veth-c42 up");
	sleep_ms(300);
	read_stats(&b);
	good = udp_run("veth up", k, "10.233.1.2", 5000, s2, 10);
	read_stats(&a);
	check(good == 10, "down: delivered again once up", "%d of 10", good);
	check(delta(&a, &b, "hits") > 0, "down: fast path again once up",
	      "hits +%lld", delta(&a, &b, "hits"));
	close(k);
}

static void scenario_flush(void)
{
	struct stats b, a;
	int k, good;

	k = udp_client("k42a", "10.233.2.2", 4000);
	udp_run("warm", k, "10.233.1.2", 5000, s2, 3);
	read_stats(&b);
	write_sysctl("/proc/sys/net/core/fpmap_flush", "1\n");
	read_stats(&a);
	check(stat_get(&b, "entries") > 0 && stat_get(&a, "entries") == 0,
	      "flush: entries gone", "entries %lld -> %lld",
	      stat_get(&b, "entries"), stat_get(&a, "entries"));
	check(delta(&a, &b, "event_flush") == 1, "flush: counted", "flush +%lld",
	      delta(&a, &b, "event_flush"));
	read_stats(&b);
	good = udp_run("after flush", k, "10.233.1.2", 5000, s2, 10);
	read_stats(&a);
	check(good == 10, "flush: delivered after the flush", "%d of 10", good);
	check(delta(&a, &b, "inserts") >= 1 && delta(&a, &b, "hits") > 0,
	      "flush: cached again and hit", "inserts +%lld, hits +%lld",
	      delta(&a, &b, "inserts"), delta(&a, &b, "hits"));
	close(k);
}

static bool tcp_read_exact(int fd, char *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) != 1)
			return false;
		n = recv(fd, buf + got, len - got, 0);
		if (n <= 0)
			return false;
		got += n;
	}
	return true;
}

static void scenario_tcp(void)
{
	struct pollfd p;
	struct stats b, a;
	int l, c, s, i, good = 0;
	char tag[64], rec[80], got[80];

	l = bound_socket("c42", SOCK_STREAM, "0.0.0.0", 7000, true);
	enter("c42");
	if (listen(l, 8))
		die("listen");
	leave();
	c = bound_socket("k42a", SOCK_STREAM, "10.233.2.2", 41001, true);
	connect_to(c, "10.233.1.2", 7000);
	p.fd = l;
	p.events = POLLIN;
	if (poll(&p, 1, 5000) != 1)
		die("accept: no connection");
	s = accept(l, NULL, NULL);
	if (s < 0)
		die("accept");

	read_stats(&b);
	for (i = 0; i < 20; i++) {
		next_tag(tag);
		snprintf(rec, sizeof(rec), "%s\n", tag);
		if (send(c, rec, strlen(rec), 0) != (ssize_t)strlen(rec))
			die("send");
		memset(got, 0, sizeof(got));
		if (tcp_read_exact(s, got, strlen(rec), 2000) && !strcmp(got, rec))
			good++;
		else
			printf("  tcp: record %s: got \"%.*s\"\n", tag, (int)strlen(rec), got);
		sleep_ms(20);
	}
	read_stats(&a);
	check(good == 20, "tcp: 20 records, in order, to the accepted socket", "%d of 20", good);
	check(delta(&a, &b, "hits") > 0 && delta(&a, &b, "delivered") > 0,
	      "tcp: fast-path hits", "hits +%lld, delivered +%lld",
	      delta(&a, &b, "hits"), delta(&a, &b, "delivered"));

	read_stats(&b);
	close(c);
	sleep_ms(200);
	close(s);
	close(l);
	sleep_ms(200);
	read_stats(&a);
	check(delta(&a, &b, "event_sock_close") >= 1 && delta(&a, &b, "invalidated") >= 1,
	      "tcp: closing the connection removed its entries",
	      "sock_close +%lld, invalidated +%lld", delta(&a, &b, "event_sock_close"),
	      delta(&a, &b, "invalidated"));
}

static void scenario_two_vni(void)
{
	struct server *t42, *t43;
	struct stats b, a;
	int u42, u43, good;

	t42 = server_udp("t42", "c42", "0.0.0.0", 8000, false);
	t43 = server_udp("t43", "c43", "0.0.0.0", 8000, false);
	u42 = udp_client("k42a", "10.233.2.2", 4001);
	u43 = udp_client("k43", "10.233.2.2", 4001);
	read_stats(&b);
	good = udp_pair("two-vni", u42, t42, u43, t43, "10.233.1.2", 8000, 10);
	read_stats(&a);
	check(good == 20, "two-vni: same inner 5-tuple, each tenant's datagrams to its own socket",
	      "%d of 20", good);
	check(delta(&a, &b, "hits") > 0, "two-vni: both tenants hit", "hits +%lld",
	      delta(&a, &b, "hits"));
	server_close(t42);
	server_close(t43);
	close(u42);
	close(u43);
}

static void scenario_disable(void)
{
	struct stats b, a;
	int k, good;

	write_sysctl("/proc/sys/net/core/fpmap_enable", "0\n");
	read_stats(&b);
	k = udp_client("k42a", "10.233.2.2", 4000);
	good = udp_run("disabled", k, "10.233.1.2", 5000, s2, 5);
	read_stats(&a);
	check(good == 5 && stat_get(&a, "enabled") == 0 && delta(&a, &b, "hits") == 0 &&
	      stat_get(&a, "entries") == 0,
	      "disable: slow path only, map empty", "%d of 5, hits +%lld, entries %lld", good,
	      delta(&a, &b, "hits"), stat_get(&a, "entries"));
	close(k);
}

/* 0: opening @path with @flags fails with @err; in a child, as nobody if @nobody. */
static bool open_fails(const char *path, int flags, int err, bool nobody)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (!pid) {
		int fd;

		if (nobody && (setgid(65534) || setuid(65534)))
			_exit(2);
		fd = open(path, flags);
		_exit(fd < 0 && errno == err ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Root only, host only, no pointers: none of ECON's B19. */
static void scenario_knob_permissions(void)
{
	leave();
	check(open_fails("/proc/sys/net/core/fpmap_enable", O_WRONLY, EACCES, true),
	      "knob: only root may switch it", "");
	check(open_fails("/proc/sys/net/core/fpmap_flush", O_WRONLY, EACCES, true),
	      "knob: only root may flush", "");
	check(open_fails("/proc/sys/net/core/fpmap_flush", O_RDONLY, EACCES, false),
	      "knob: flush is write-only", "");
	check(!open_fails(STAT_FILE, O_RDONLY, EACCES, true), "knob: counters readable by all", "");
	enter("c42");
	check(open_fails("/proc/sys/net/core/fpmap_enable", O_WRONLY, ENOENT, false) &&
	      open_fails("/proc/self/net/fpmap_stat", O_RDONLY, ENOENT, false),
	      "knob: not in a container's namespace", "");
	leave();
}

int main(void)
{
	struct stats s;
	cpu_set_t cpus;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("sched_setaffinity");
	root_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (root_ns < 0)
		die("/proc/self/ns/net");

	read_stats(&s);
	check(stat_get(&s, "enabled") == 0 && stat_get(&s, "entries") == 0,
	      "knob: off at boot", "enabled %lld", stat_get(&s, "enabled"));
	write_sysctl("/proc/sys/net/core/fpmap_enable", "1\n");
	read_stats(&s);
	check(stat_get(&s, "enabled") == 1, "knob: on", "enabled %lld", stat_get(&s, "enabled"));
	scenario_knob_permissions();

	scenario_udp_basic();
	print_stats("after udp-basic/close/reopen");
	scenario_connect_shadowing();
	print_stats("after connect");
	scenario_device_down();
	print_stats("after down");
	scenario_flush();
	print_stats("after flush");
	scenario_tcp();
	print_stats("after tcp");
	scenario_two_vni();
	print_stats("after two-vni");

	read_stats(&s);
	check(stat_get(&s, "hits") > 0 && stat_get(&s, "delivered") > 0,
	      "overall: fast-path hits", "hits %lld, delivered %lld",
	      stat_get(&s, "hits"), stat_get(&s, "delivered"));
	check(wrong_deliveries == 0, "overall: no wrong delivery", "%d wrong deliveries",
	      wrong_deliveries);
	check(misses == 0, "overall: nothing lost", "%d misses", misses);
	scenario_disable();
	print_stats("at the end");

	printf("fpe2e: wrong_deliveries=%d misses=%d\n", wrong_deliveries, misses);
	printf("fpe2e: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
