// agent: runs a timed socket script inside one container namespace and logs what happened.
//
//   agent -n CONTAINER -t T0 [-b TAGBASE] SCRIPT
//   agent -n CONTAINER -i
//
// T0 is an absolute CLOCK_REALTIME instant ("sec.nsec"); every script line is "<ms> <op> <args>" and
// runs at T0 + ms. The same program is the server (node B) and the client (node A): what it does is
// only what its script says. Ops:
//
//   <ms> socket  NAME udp|tcp
//   <ms> bind    NAME IP:PORT [reuseaddr] [reuseport]
//   <ms> connect NAME IP:PORT          UDP: connect (0.0.0.0:0 disconnects); TCP: blocking connect
//   <ms> listen  NAME BACKLOG
//   <ms> close   NAME                  drains what is queued first, so nothing delivered goes unlogged
//   <ms> send    NAME IP:PORT|- INTERVAL_MS COUNT [ports N] [size BYTES]
//                                      COUNT tagged datagrams/writes, one every INTERVAL_MS; with
//                                      "ports N" the destination port cycles over PORT..PORT+N-1;
//                                      with "size BYTES" (a multiple of 10, UDP only) each datagram
//                                      is its record repeated BYTES/10 times: larger than the path
//                                      MTU, the sender's stack fragments it
//   <ms> end                           close what is still open and exit
//
// Every payload is one record "TAG%06u\n" (10 bytes), unique per agent run (TAGBASE + counter), or
// that record repeated ("size"); a received datagram of one record repeated logs one recv.
// Log lines on stdout, stamped with CLOCK_REALTIME (the pcap clock) right after the call returned:
//
//   T socket NAME NS PROTO | T bind NAME ADDR REUSEADDR REUSEPORT | T connect NAME PEER
//   T listen NAME BACKLOG  | T accept LISTENER NAME | T close NAME | T recv NAME TAG
//   T sent NAME TAG DEST   | T senderr NAME TAG ERRNO | T error OP NAME ERRNO | T late MS BY_US NAME
//
// Accepted TCP connections are named LISTENER/PEERIP:PEERPORT and closed when the peer closes.
//
// With -i (interactive, for kernel-replay/) there is no script and no clock: each line read on
// stdin is one op without its <ms>, run at once and answered with "T done" once it has run (its
// log line comes first). Two more ops: "sendhex NAME IP:PORT|- HEX" sends those bytes, and "sync"
// reads whatever is queued on every socket. Everything read is logged as "T data NAME HEX", tags
// or not, so that a caller can match any payload. End of stdin closes everything and exits.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKS 256
#define MAX_ACTIONS 65536
#define NAME_LEN 64
#define RECORD_LEN 10 /* "TAG" + 6 digits + '\n' */
#define DATAGRAM_MAX 65500 /* "size": a UDP payload within an IPv4 datagram's 65535 */

enum role { R_PLAIN, R_LISTENER, R_ACCEPTED, R_TCP_CLIENT };

struct sock {
	char name[NAME_LEN];
	int fd; /* -1 when closed */
	int tcp;
	enum role role;
	char buf[RECORD_LEN]; /* partial record of an accepted stream */
	size_t buflen;
};

enum op { OP_SOCKET, OP_BIND, OP_CONNECT, OP_LISTEN, OP_CLOSE, OP_SEND, OP_SENDHEX, OP_SYNC, OP_END };

struct action {
	long long at_ns; /* absolute CLOCK_REALTIME */
	long ms;
	int line; /* script order breaks ties */
	enum op op;
	char name[NAME_LEN];
	char arg[NAME_LEN]; /* proto, address, backlog */
	char *hex; /* sendhex: the payload, owned by the caller */
	int reuseaddr, reuseport;
	int port_offset; /* send: added to the destination port */
	int size; /* send: payload bytes, RECORD_LEN or a multiple of it */
};

static struct sock socks[MAX_SOCKS];
static int nsocks;
static struct action actions[MAX_ACTIONS];
static int nactions;
static const char *container = "?";
static unsigned tag_next;
static int failed;
static int interactive; /* -i: log every read as hex, ops come from stdin */

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void stamp(void)
{
	long long ns = now_ns();
	printf("%lld.%06lld ", ns / 1000000000LL, (ns % 1000000000LL) / 1000);
}

static void die(const char *what)
{
	fprintf(stderr, "agent %s: %s\n", container, what);
	exit(2);
}

static struct sock *find_sock(const char *name)
{
	for (int i = 0; i < nsocks; i++)
		if (socks[i].fd >= 0 && strcmp(socks[i].name, name) == 0)
			return &socks[i];
	return NULL;
}

static struct sock *new_sock(const char *name, int fd, int tcp, enum role role)
{
	for (int i = 0; i < nsocks; i++)
		if (strcmp(socks[i].name, name) == 0)
			die("socket name used twice");
	if (nsocks == MAX_SOCKS)
		die("too many sockets");
	struct sock *s = &socks[nsocks++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->fd = fd;
	s->tcp = tcp;
	s->role = role;
	s->buflen = 0;
	return s;
}

static int parse_addr(const char *text, struct sockaddr_in *sa)
{
	char ip[32];
	const char *colon = strrchr(text, ':');
	if (!colon || (size_t)(colon - text) >= sizeof(ip))
		return -1;
	memcpy(ip, text, colon - text);
	ip[colon - text] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)atoi(colon + 1));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static void log_error(const char *op, const char *name)
{
	stamp();
	printf("error %s %s %s\n", op, name, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	failed = 1;
}

static void log_hex(struct sock *s, const char *data, size_t len)
{
	stamp();
	printf("data %s ", s->name);
	for (size_t i = 0; i < len; i++)
		printf("%02x", (unsigned char)data[i]);
	printf("\n");
}

static void log_tags(struct sock *s, const char *data, size_t len)
{
	/* A stream may split a record anywhere: reassemble before logging. */
	for (size_t i = 0; i < len; i++) {
		if (s->buflen < RECORD_LEN)
			s->buf[s->buflen++] = data[i];
		if (data[i] == '\n') {
			if (s->buflen == RECORD_LEN && memcmp(s->buf, "TAG", 3) == 0) {
				stamp();
				printf("recv %s %.*s\n", s->name, RECORD_LEN - 1, s->buf);
			} else {
				stamp();
				printf("garbage %s %zu\n", s->name, s->buflen);
			}
			s->buflen = 0;
		}
	}
}

static void do_close(struct sock *s)
{
	close(s->fd);
	s->fd = -1;
	stamp();
	printf("close %s\n", s->name);
}

static void accept_one(struct sock *l)
{
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK);
	if (fd < 0)
		return;
	char ip[INET_ADDRSTRLEN], name[NAME_LEN + 32];
	inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
	snprintf(name, sizeof(name), "%.40s/%s:%u", l->name, ip, ntohs(peer.sin_port));
	new_sock(name, fd, 1, R_ACCEPTED);
	stamp();
	printf("accept %s %s\n", l->name, name);
}

/* A datagram of one record, or of one record repeated (a "size" send), logs that record's tag. */
static int is_tagged_datagram(const char *buf, size_t n)
{
	if (n < RECORD_LEN || n % RECORD_LEN || memcmp(buf, "TAG", 3) != 0 || buf[RECORD_LEN - 1] != '\n')
		return 0;
	for (size_t off = RECORD_LEN; off < n; off += RECORD_LEN)
		if (memcmp(buf + off, buf, RECORD_LEN) != 0)
			return 0;
	return 1;
}

/* Read everything queued on s without blocking. Returns 0 when an accepted stream ended. */
static int drain(struct sock *s)
{
	static char buf[65536]; /* a whole datagram, whatever its size */
	if (s->role == R_LISTENER) {
		int before = nsocks;
		accept_one(s);
		return nsocks == before ? 1 : drain(s);
	}
	if (s->role == R_TCP_CLIENT)
		return 1;
	for (;;) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			if (interactive)
				log_hex(s, buf, n);
			else if (s->tcp)
				log_tags(s, buf, n);
			else if (is_tagged_datagram(buf, n)) {
				stamp();
				printf("recv %s %.*s\n", s->name, RECORD_LEN - 1, buf);
			} else {
				stamp();
				printf("garbage %s %zd\n", s->name, n);
			}
			continue;
		}
		if (n == 0 && s->tcp)
			return 0;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 1;
		if (n < 0 && !s->tcp) /* a UDP socket may hold a queued ICMP error: read on */
			continue;
		return s->tcp ? 0 : 1;
	}
}

/* One datagram or write: to DEST ("IP:PORT", the port plus port_offset) or, for "-", to the
 * connected peer. */
static ssize_t send_to(struct sock *s, const char *dest, int port_offset, const char *data, size_t len)
{
	if (strcmp(dest, "-") == 0)
		return send(s->fd, data, len, MSG_NOSIGNAL);
	struct sockaddr_in sa;
	if (parse_addr(dest, &sa))
		die("bad address");
	sa.sin_port = htons(ntohs(sa.sin_port) + port_offset);
	return sendto(s->fd, data, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa));
}

static void run(struct action *a)
{
	int named = a->op != OP_SOCKET && a->op != OP_END && a->op != OP_SYNC;
	struct sock *s = named ? find_sock(a->name) : NULL;
	if (named && !s) {
		stamp();
		printf("error %d no_such_socket %s\n", a->op, a->name);
		failed = 1;
		return;
	}
	switch (a->op) {
	case OP_SOCKET: {
		int tcp = strcmp(a->arg, "tcp") == 0;
		int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (fd < 0) {
			log_error("socket", a->name);
			return;
		}
		if (tcp) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		new_sock(a->name, fd, tcp, tcp ? R_TCP_CLIENT : R_PLAIN);
		stamp();
		printf("socket %s %s %s\n", a->name, container, tcp ? "tcp" : "udp");
		break;
	}
	case OP_BIND: {
		struct sockaddr_in sa;
		if (parse_addr(a->arg, &sa))
			die("bad address");
		if (a->reuseaddr)
			setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &a->reuseaddr, sizeof(int));
		if (a->reuseport)
			setsockopt(s->fd, SOL_SOCKET, SO_REUSEPORT, &a->reuseport, sizeof(int));
		if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa))) {
			log_error("bind", a->name);
			return;
		}
		stamp();
		printf("bind %s %s %s %s\n", a->name, a->arg, a->reuseaddr ? "true" : "false",
		       a->reuseport ? "true" : "false");
		break;
	}
	case OP_CONNECT: {
		struct sockaddr_in sa;
		if (parse_addr(a->arg, &sa))
			die("bad address");
		if (!s->tcp && sa.sin_addr.s_addr == 0 && sa.sin_port == 0)
			sa.sin_family = AF_UNSPEC;
		if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa))) {
			log_error("connect", a->name);
			return;
		}
		stamp();
		printf("connect %s %s\n", a->name, a->arg);
		break;
	}
	case OP_LISTEN:
		if (listen(s->fd, atoi(a->arg))) {
			log_error("listen", a->name);
			return;
		}
		s->role = R_LISTENER;
		fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK); /* drain() accepts until EAGAIN */
		stamp();
		printf("listen %s %s\n", a->name, a->arg);
		break;
	case OP_CLOSE:
		drain(s);
		do_close(s);
		break;
	case OP_SEND: {
		static char payload[DATAGRAM_MAX + 1];
		if (s->tcp && a->size != RECORD_LEN)
			die("send size: UDP only (a stream would log each repeated record)");
		unsigned tag = tag_next++;
		snprintf(payload, RECORD_LEN + 1, "TAG%06u\n", tag);
		for (int off = RECORD_LEN; off < a->size; off += RECORD_LEN)
			memcpy(payload + off, payload, RECORD_LEN);
		ssize_t n = send_to(s, a->arg, a->port_offset, payload, a->size);
		stamp();
		if (n == a->size)
			printf("sent %s TAG%06u %s+%d\n", a->name, tag, a->arg, a->port_offset);
		else
			printf("senderr %s TAG%06u %s\n", a->name, tag,
			       n < 0 && strerrorname_np(errno) ? strerrorname_np(errno) : "short");
		break;
	}
	case OP_SENDHEX: {
		static char bytes[65536];
		size_t len = strlen(a->hex) / 2;
		if (strlen(a->hex) % 2 || len > sizeof(bytes))
			die("sendhex: odd or oversized payload");
		for (size_t i = 0; i < len; i++)
			if (sscanf(a->hex + 2 * i, "%2hhx", (unsigned char *)&bytes[i]) != 1)
				die("sendhex: not hex");
		ssize_t n = send_to(s, a->arg, 0, bytes, len);
		stamp();
		if (n == (ssize_t)len)
			printf("senthex %s %zu %s\n", a->name, len, a->arg);
		else
			printf("senderr %s - %s\n", a->name, n < 0 && strerrorname_np(errno) ? strerrorname_np(errno) : "short");
		break;
	}
	case OP_SYNC:
		for (int i = 0; i < nsocks; i++)
			if (socks[i].fd >= 0 && !drain(&socks[i]))
				do_close(&socks[i]);
		break;
	case OP_END:
		break;
	}
}

static int by_time(const void *x, const void *y)
{
	const struct action *a = x, *b = y;
	if (a->at_ns != b->at_ns)
		return a->at_ns < b->at_ns ? -1 : 1;
	return a->line - b->line;
}

static void add_action(struct action a)
{
	if (nactions == MAX_ACTIONS)
		die("too many actions");
	actions[nactions++] = a;
}

/* One op and its arguments (words[0] is the op) into a; 0 when it parses. "send" leaves its
 * repetition (INTERVAL_MS COUNT [ports N] [size BYTES]) to the caller; sendhex and sync are interactive only. */
static int parse_op(char **words, int n, struct action *a)
{
	const char *op = words[0];
	if (n >= 2)
		snprintf(a->name, sizeof(a->name), "%s", words[1]);
	if (n >= 3)
		snprintf(a->arg, sizeof(a->arg), "%s", words[2]);
	for (int i = 3; i < n; i++) {
		a->reuseaddr |= strcmp(words[i], "reuseaddr") == 0;
		a->reuseport |= strcmp(words[i], "reuseport") == 0;
	}
	if (strcmp(op, "socket") == 0 && n == 3)
		a->op = OP_SOCKET;
	else if (strcmp(op, "bind") == 0 && n >= 3)
		a->op = OP_BIND;
	else if (strcmp(op, "connect") == 0 && n == 3)
		a->op = OP_CONNECT;
	else if (strcmp(op, "listen") == 0 && n == 3)
		a->op = OP_LISTEN;
	else if (strcmp(op, "close") == 0 && n == 2)
		a->op = OP_CLOSE;
	else if (strcmp(op, "end") == 0 && n == 1)
		a->op = OP_END;
	else if (strcmp(op, "send") == 0 && !interactive && n >= 5 && n % 2 == 1)
		a->op = OP_SEND; /* INTERVAL_MS COUNT, then option pairs: the loader reads them */
	else if (strcmp(op, "sendhex") == 0 && interactive && n == 4) {
		a->op = OP_SENDHEX;
		a->hex = words[3];
	} else if (strcmp(op, "sync") == 0 && interactive && n == 1)
		a->op = OP_SYNC;
	else
		return -1;
	return 0;
}

/* Splits line into at most max words in place; returns how many. */
static int split_words(char *line, char **words, int max)
{
	int n = 0;
	for (char *w = strtok(line, " \t\r\n"); w && n < max; w = strtok(NULL, " \t\r\n"))
		words[n++] = w;
	return n;
}

static void load(const char *path, long long t0)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot open script");
	char line[512];
	int lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		char *words[12];
		int n = split_words(line, words, 12);
		lineno++;
		if (n == 0 || words[0][0] == '#')
			continue;
		struct action a = { .ms = atol(words[0]), .line = lineno };
		a.at_ns = t0 + a.ms * 1000000LL;
		if (n < 2 || parse_op(words + 1, n - 1, &a)) {
			fprintf(stderr, "agent %s: %s:%d: cannot parse\n", container, path, lineno);
			exit(2);
		}
		if (a.op == OP_SEND) {
			long every = atol(words[4]), count = atol(words[5]);
			int ports = 1;
			a.size = RECORD_LEN;
			for (int i = 6; i < n; i += 2) {
				if (strcmp(words[i], "ports") == 0)
					ports = atoi(words[i + 1]);
				else if (strcmp(words[i], "size") == 0)
					a.size = atoi(words[i + 1]);
				else
					ports = 0; /* an unknown option: refused below */
			}
			if (ports < 1 || a.size < RECORD_LEN || a.size > DATAGRAM_MAX || a.size % RECORD_LEN) {
				fprintf(stderr, "agent %s: %s:%d: bad send options\n", container, path, lineno);
				exit(2);
			}
			for (long i = 0; i < count; i++) {
				struct action b = a;
				b.ms = a.ms + i * every;
				b.at_ns = t0 + b.ms * 1000000LL;
				b.port_offset = (int)(i % ports);
				add_action(b);
			}
			continue;
		}
		add_action(a);
	}
	fclose(f);
	qsort(actions, nactions, sizeof(actions[0]), by_time);
}

/* Reads what arrives on the sockets until the deadline or, with watch_stdin, until stdin has
 * something to read. Returns 1 in the second case. */
static int serve_until(long long deadline, int watch_stdin)
{
	for (;;) {
		struct pollfd pfd[MAX_SOCKS + 1];
		struct sock *who[MAX_SOCKS + 1];
		int n = 0;
		for (int i = 0; i < nsocks; i++) {
			if (socks[i].fd < 0 || socks[i].role == R_TCP_CLIENT)
				continue;
			pfd[n] = (struct pollfd){ .fd = socks[i].fd, .events = POLLIN };
			who[n++] = &socks[i];
		}
		if (watch_stdin) {
			pfd[n] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
			who[n++] = NULL;
		}
		long long left = deadline - now_ns();
		if (left <= 0)
			return 0;
		struct timespec ts = { left / 1000000000LL, left % 1000000000LL };
		int r = ppoll(pfd, n, &ts, NULL);
		if (r < 0 && errno != EINTR)
			die("ppoll");
		int input = 0;
		for (int i = 0; i < n && r > 0; i++) {
			if (!pfd[i].revents)
				continue;
			if (!who[i])
				input = 1;
			else if (!drain(who[i]))
				do_close(who[i]);
		}
		fflush(stdout);
		if (input)
			return 1;
	}
}

/* -i: ops from stdin, each run as soon as its line is complete and answered with "done". */
static void run_interactive(void)
{
	static char line[2 * 65536 + 256]; /* sendhex of the largest datagram */
	size_t have = 0;
	for (;;) {
		serve_until(LLONG_MAX, 1);
		ssize_t got = read(STDIN_FILENO, line + have, sizeof(line) - 1 - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return;
		have += got;
		char *end;
		while ((end = memchr(line, '\n', have))) {
			*end = 0;
			size_t used = end + 1 - line;
			char *words[12];
			int n = split_words(line, words, 12);
			struct action a = { .line = 0 };
			if (n > 0 && parse_op(words, n, &a) == 0 && a.op != OP_END) {
				run(&a);
			} else if (n > 0) {
				stamp();
				printf("error parse %s -\n", words[0]);
			}
			stamp();
			printf("done\n");
			fflush(stdout);
			memmove(line, line + used, have - used);
			have -= used;
		}
		if (have == sizeof(line) - 1)
			die("an input line is too long");
	}
}

int main(int argc, char **argv)
{
	const char *t0text = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "n:t:b:i")) != -1) {
		switch (opt) {
		case 'i': interactive = 1; break;
		case 'n': container = optarg; break;
		case 't': t0text = optarg; break;
		case 'b': tag_next = (unsigned)atol(optarg); break;
		default: die("usage: agent -n CONTAINER -t T0 [-b TAGBASE] SCRIPT | agent -n CONTAINER -i");
		}
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (interactive && optind == argc) {
		run_interactive();
		for (int i = 0; i < nsocks; i++)
			if (socks[i].fd >= 0) {
				drain(&socks[i]);
				do_close(&socks[i]);
			}
		return 0;
	}
	if (interactive || !t0text || optind + 1 != argc)
		die("usage: agent -n CONTAINER -t T0 [-b TAGBASE] SCRIPT");
	long long sec = 0, nsec = 0;
	const char *dot = strchr(t0text, '.');
	sec = atoll(t0text);
	if (dot) {
		char frac[10] = "000000000";
		memcpy(frac, dot + 1, strnlen(dot + 1, 9));
		nsec = atoll(frac);
	}
	long long t0 = sec * 1000000000LL + nsec;
	load(argv[optind], t0);

	for (int i = 0; i < nactions; i++) {
		serve_until(actions[i].at_ns, 0);
		long long late = now_ns() - actions[i].at_ns;
		if (late > 1000000LL) { /* the schedules keep 10 ms margins: say when they shrink */
			stamp();
			printf("late %ld %lld %s\n", actions[i].ms, late / 1000, actions[i].name[0] ? actions[i].name : "-");
		}
		if (actions[i].op == OP_END)
			break;
		run(&actions[i]);
	}
	for (int i = 0; i < nsocks; i++)
		if (socks[i].fd >= 0) {
			drain(&socks[i]);
			do_close(&socks[i]);
		}
	return failed ? 1 : 0;
}
