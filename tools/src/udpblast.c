// udpblast: the traffic of tools/measure-costs. One UDP flow as fast as one CPU can send it, and a
// sink that counts what a socket received.
//
//   udpblast send DST_IP DST_PORT SECONDS PAYLOAD CPU [vxlan VNI INNER_DST_MAC]
//       sendmmsg() batches of 64 datagrams of PAYLOAD bytes to DST_IP:DST_PORT for SECONDS, pinned
//       to CPU. With `vxlan`, each datagram is a VXLAN frame built here (VNI, an inner Ethernet
//       header to INNER_DST_MAC, inner IPv4 10.233.2.2 → 10.233.1.2, inner UDP 4000 → 5000 with no
//       checksum, PAYLOAD bytes): the receiver's VXLAN device decapsulates it, so the sender's
//       transmit path is the same plain UDP send in both topologies. Prints "sent N".
//   udpblast sink PORT CPU SECONDS
//       binds 0.0.0.0:PORT, prints "ready", reads with recvmmsg() for SECONDS, then what is still
//       queued, and prints "received N". It stops by itself: no signal to race with.
// Both run SCHED_FIFO (the machine may be shared: other work must not take their CPU) and print the
// CPU time they used (getrusage: user + system, which includes the softirq work the kernel ran in
// their context, such as veth's receive path run inline from the sender's netif_rx).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_DGRAM 2048

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set))
		die("sched_setaffinity");
	struct sched_param param = {.sched_priority = 50};
	if (sched_setscheduler(0, SCHED_FIFO, &param))
		perror("udpblast: SCHED_FIFO (going on without)");
}

static unsigned long long cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint16_t ip_checksum(const uint8_t *h, int len)
{
	uint32_t sum = 0;
	for (int i = 0; i < len; i += 2)
		sum += (uint32_t)h[i] << 8 | h[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

// VXLAN header, inner Ethernet, inner IPv4 and UDP, then payload zeros: the bytes of one datagram.
static int vxlan_frame(uint8_t *out, uint32_t vni, const char *dst_mac, int payload)
{
	uint8_t *p = out;
	memset(out, 0, MAX_DGRAM);
	p[0] = 0x08; // flags: VNI valid
	p[4] = vni >> 16;
	p[5] = vni >> 8;
	p[6] = vni;
	p += 8;
	unsigned m[6];
	if (sscanf(dst_mac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
		fprintf(stderr, "udpblast: bad MAC %s\n", dst_mac);
		exit(2);
	}
	for (int i = 0; i < 6; i++)
		p[i] = (uint8_t)m[i];
	const uint8_t src_mac[6] = {0x02, 0x2a, 0x0a, 0xe9, 0x02, 0x02};
	memcpy(p + 6, src_mac, 6);
	p[12] = 0x08; // IPv4
	p += 14;
	int ip_len = 20 + 8 + payload;
	p[0] = 0x45;
	p[2] = ip_len >> 8;
	p[3] = ip_len;
	p[6] = 0x40; // DF
	p[8] = 64;
	p[9] = 17;
	const uint8_t src[4] = {10, 233, 2, 2}, dst[4] = {10, 233, 1, 2};
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	uint16_t csum = ip_checksum(p, 20);
	p[10] = csum >> 8;
	p[11] = csum;
	p += 20;
	p[0] = 4000 >> 8;
	p[1] = 4000 & 0xff;
	p[2] = 5000 >> 8;
	p[3] = 5000 & 0xff;
	p[4] = (8 + payload) >> 8;
	p[5] = (8 + payload) & 0xff; // checksum 0: none, as IPv4 allows
	return 8 + 14 + 20 + 8 + payload;
}

static int send_main(int argc, char **argv)
{
	if (argc != 7 && argc != 10)
		return 2;
	const char *dst_ip = argv[2];
	int port = atoi(argv[3]);
	double seconds = atof(argv[4]);
	int payload = atoi(argv[5]);
	pin(atoi(argv[6]));
	static uint8_t buf[MAX_DGRAM];
	int len = payload;
	if (argc == 10) {
		if (strcmp(argv[7], "vxlan"))
			return 2;
		len = vxlan_frame(buf, (uint32_t)atoi(argv[8]), argv[9], payload);
	}
	if (len <= 0 || len > MAX_DGRAM)
		return 2;

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, dst_ip, &to.sin_addr) != 1)
		return 2;
	if (connect(fd, (struct sockaddr *)&to, sizeof to))
		die("connect");

	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = len;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	unsigned long long sent = 0, errors = 0;
	double end = now() + seconds;
	while (now() < end) {
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n < 0) {
			errors++; // ENOBUFS and the like: the sender outran the device; try again
			continue;
		}
		sent += n;
	}
	printf("sent %llu errors %llu cpu_us %llu\n", sent, errors, cpu_us());
	return 0;
}

static int sink_main(int argc, char **argv)
{
	if (argc != 5)
		return 2;
	int port = atoi(argv[2]);
	pin(atoi(argv[3]));
	double seconds = atof(argv[4]);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	int rcvbuf = 16 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
	struct timeval tick = {.tv_usec = 50000}; // wake up to look at the clock
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
	struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (bind(fd, (struct sockaddr *)&at, sizeof at))
		die("bind");
	static uint8_t bufs[BATCH][MAX_DGRAM];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = MAX_DGRAM;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	printf("ready\n");
	fflush(stdout);
	unsigned long long received = 0;
	double end = now() + seconds;
	while (now() < end) {
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n > 0)
			received += n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			die("recvmmsg");
	}
	// What the socket still holds was processed by softirq in the window: count it too.
	for (;;) {
		int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		received += n;
	}
	printf("received %llu cpu_us %llu\n", received, cpu_us());
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;
	if (argc > 1 && !strcmp(argv[1], "send"))
		rc = send_main(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "sink"))
		rc = sink_main(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: udpblast send DST_IP DST_PORT SECONDS PAYLOAD CPU [vxlan VNI INNER_DST_MAC]\n"
				"       udpblast sink PORT CPU SECONDS\n");
	return rc;
}
