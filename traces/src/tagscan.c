// tagscan: find the tag records in a VXLAN capture and say which frame carries which.
//
//   tagscan TRACE.pcap RX_IP
//
// Looks only at frames addressed to RX_IP (the receiving host) that are VXLAN (outer UDP to 4789)
// and carry an inner IPv4 UDP or TCP packet with a payload. An ICMP error that quotes a tagged
// datagram is therefore not a tagged frame. One line per tagged frame, then a total:
//
//   F <frame> <ts> <vni> <proto> <src>:<sport> <dst>:<dport> clean|split <tag>[,<tag>...]|-
//   frames <N>
//
// "clean" means the payload is a whole number of 10-byte records "TAGdddddd\n"; anything else (a
// record split across TCP segments, stray bytes) is "split" and lists no tags.
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_LEN 10
#define VXLAN_PORT 4789

static int is_record(const unsigned char *p)
{
	if (memcmp(p, "TAG", 3) != 0 || p[RECORD_LEN - 1] != '\n')
		return 0;
	for (int i = 3; i < RECORD_LEN - 1; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

static unsigned get16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }

/* Returns the IPv4 header length if p holds an unfragmented IPv4 packet, else 0. */
static unsigned ipv4_header(const unsigned char *p, size_t len)
{
	if (len < 20 || p[0] >> 4 != 4)
		return 0;
	unsigned ihl = (p[0] & 15u) * 4;
	if (ihl < 20 || ihl > len || (get16(p + 6) & 0x3fff) != 0) /* MF or offset: a fragment */
		return 0;
	return ihl;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: tagscan TRACE.pcap RX_IP\n");
		return 2;
	}
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(argv[1], err);
	if (!pc) {
		fprintf(stderr, "tagscan: %s\n", err);
		return 2;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, "tagscan: not an Ethernet capture\n");
		return 2;
	}
	struct in_addr rx;
	if (inet_pton(AF_INET, argv[2], &rx) != 1) {
		fprintf(stderr, "tagscan: bad address %s\n", argv[2]);
		return 2;
	}
	struct pcap_pkthdr *h;
	const unsigned char *d;
	unsigned long frame = 0;
	int r;
	while ((r = pcap_next_ex(pc, &h, &d)) == 1) {
		frame++;
		size_t len = h->caplen;
		/* outer Ethernet, IPv4, UDP to the VXLAN port, addressed to us */
		if (len < 14 || get16(d + 12) != 0x0800)
			continue;
		const unsigned char *ip = d + 14;
		size_t iplen = len - 14;
		unsigned ihl = ipv4_header(ip, iplen);
		if (!ihl || ip[9] != 17 || memcmp(ip + 16, &rx, 4) != 0)
			continue;
		const unsigned char *udp = ip + ihl;
		if (iplen < ihl + 8 + 8 || get16(udp + 2) != VXLAN_PORT)
			continue;
		const unsigned char *vx = udp + 8;
		unsigned vni = (unsigned)vx[4] << 16 | (unsigned)vx[5] << 8 | vx[6];
		/* inner Ethernet, IPv4, UDP or TCP */
		const unsigned char *in = vx + 8;
		size_t inlen = iplen - ihl - 16;
		if (inlen < 14 || get16(in + 12) != 0x0800)
			continue;
		const unsigned char *iip = in + 14;
		size_t iiplen = inlen - 14;
		unsigned iihl = ipv4_header(iip, iiplen);
		if (!iihl)
			continue;
		size_t total = get16(iip + 2);
		if (total < iihl || total > iiplen)
			continue;
		const unsigned char *l4 = iip + iihl;
		size_t l4len = total - iihl, hdr;
		const char *proto;
		if (iip[9] == 17) {
			proto = "udp";
			hdr = 8;
		} else if (iip[9] == 6) {
			proto = "tcp";
			hdr = l4len >= 20 ? (size_t)(l4[12] >> 4) * 4 : 0;
		} else {
			continue;
		}
		if (hdr < 8 || l4len <= hdr)
			continue; /* no payload: not tagged */
		const unsigned char *pay = l4 + hdr;
		size_t paylen = l4len - hdr;
		int clean = paylen % RECORD_LEN == 0;
		for (size_t off = 0; clean && off < paylen; off += RECORD_LEN)
			clean = is_record(pay + off);
		char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, iip + 12, src, sizeof(src));
		inet_ntop(AF_INET, iip + 16, dst, sizeof(dst));
		printf("F %lu %lld.%06ld %u %s %s:%u %s:%u %s ", frame, (long long)h->ts.tv_sec, (long)h->ts.tv_usec,
		       vni, proto, src, get16(l4), dst, get16(l4 + 2), clean ? "clean" : "split");
		if (!clean)
			printf("-");
		for (size_t off = 0; clean && off < paylen; off += RECORD_LEN)
			printf("%s%.*s", off ? "," : "", RECORD_LEN - 1, pay + off);
		printf("\n");
	}
	if (r == PCAP_ERROR) {
		fprintf(stderr, "tagscan: %s\n", pcap_geterr(pc));
		return 2;
	}
	printf("frames %lu\n", frame);
	pcap_close(pc);
	return 0;
}
