// udp-reuse-probe: what does the running kernel do with two UDP sockets on one port?
//
// Run inside a fresh network namespace (traces/probe-udp-reuse does that). For every pair of
// SO_REUSEADDR/SO_REUSEPORT settings it binds s1 (older) to 0.0.0.0:5000 and s2 (newer) to
// ADDR:5000, then sends from two clients (127.0.0.2:4000 and 127.0.0.3:4000) and counts which
// socket got what: first with both sockets unconnected, then with s2 connected to client 1,
// then after s2 disconnects (connect AF_UNSPEC).
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ROUNDS 16

static struct sockaddr_in addr(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, ip, &sa.sin_addr);
	return sa;
}

static int udp(int flags, const char *ip, int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), one = 1;
	if (flags & 1)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (flags & 2)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	struct sockaddr_in sa = addr(ip, port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int drain(int fd)
{
	char buf[64];
	int n = 0;
	while (recv(fd, buf, sizeof(buf), 0) >= 0)
		n++;
	return n;
}

/* Each client sends ROUNDS datagrams; prints "client1 -> s1:N s2:M, client2 -> ..." */
static void measure(const char *phase, int s1, int s2, int c1, int c2)
{
	struct sockaddr_in dst = addr("127.0.0.1", 5000);
	printf("    %-22s", phase);
	int clients[2] = { c1, c2 };
	for (int c = 0; c < 2; c++) {
		for (int i = 0; i < ROUNDS; i++)
			sendto(clients[c], "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst));
		usleep(20000);
		int n1 = drain(s1), n2 = drain(s2);
		printf(" client%d -> s1:%2d s2:%2d%s", c + 1, n1, n2, c == 0 ? "," : "\n");
	}
}

int main(void)
{
	static const char *names[] = { "none", "reuseaddr", "reuseport", "reuseaddr+reuseport" };
	static const char *s2addr[] = { "0.0.0.0", "127.0.0.1" };
	int c1 = udp(0, "127.0.0.2", 4000), c2 = udp(0, "127.0.0.3", 4000);
	if (c1 < 0 || c2 < 0) {
		perror("client bind");
		return 1;
	}
	for (int a = 0; a < 2; a++)
		for (int f1 = 0; f1 < 4; f1++)
			for (int f2 = 0; f2 < 4; f2++) {
				int s1 = udp(f1, "0.0.0.0", 5000);
				int s2 = udp(f2, s2addr[a], 5000);
				printf("s1 0.0.0.0:5000 %s, s2 %s:5000 %s: ", names[f1], s2addr[a], names[f2]);
				if (s2 < 0) {
					printf("bind s2: %s\n", strerror(errno));
					close(s1);
					continue;
				}
				printf("both bound\n");
				measure("both unconnected:", s1, s2, c1, c2);
				struct sockaddr_in peer = addr("127.0.0.2", 4000);
				connect(s2, (struct sockaddr *)&peer, sizeof(peer));
				struct sockaddr_in local;
				socklen_t llen = sizeof(local);
				getsockname(s2, (struct sockaddr *)&local, &llen);
				printf("    s2 connected: its local address is now %s\n", inet_ntoa(local.sin_addr));
				measure("s2 connected to c1:", s1, s2, c1, c2);
				struct sockaddr unspec = { .sa_family = AF_UNSPEC };
				connect(s2, &unspec, sizeof(unspec));
				llen = sizeof(local);
				getsockname(s2, (struct sockaddr *)&local, &llen);
				printf("    s2 disconnected: its local address is %s again\n", inet_ntoa(local.sin_addr));
				measure("s2 disconnected:", s1, s2, c1, c2);
				close(s1);
				close(s2);
			}
	return 0;
}
