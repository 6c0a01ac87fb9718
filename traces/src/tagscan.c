// tagscan: find the tag records in a VXLAN capture and say which frame carries which.
//
//   tagscan TRACE.pcap RX_IP [VXLAN_PORT]
//
// Looks only at frames addressed to RX_IP (the receiving host) that are VXLAN (outer UDP to
// VXLAN_PORT, default 4789; flannel uses 8472) and carry an inner IPv4 UDP or TCP packet with a
// payload, or an inner IPv4 fragment. An ICMP error that quotes a tagged datagram is therefore not
// a tagged frame. One line per tagged frame or inner fragment, then a total:
//
//   F <frame> <ts> <vni> <proto> <src>:<sport> <dst>:<dport> clean|split <tag>[,<tag>...]|-
//   G <frame> <ts> <vni> <proto> <src> <dst> <ip id> <offset> <bytes> <more> <tag>|-
//   O <frame> <ts> <src> <ip id> <offset> <bytes> <more> held|complete|bad
//   frames <N>
//
// "clean" means the payload is a whole number of 10-byte records "TAGdddddd\n"; anything else (a
// record split across TCP segments, stray bytes) is "split" and lists no tags. A G line is one
// fragment of an inner datagram: its offset and length in bytes of the IP payload, whether more
// fragments follow (1) or not (0), and for the first fragment (offset 0) the tag its payload starts
// with (a "size" datagram repeats one record). An O line is one outer (underlay) fragment of a UDP
// datagram to RX_IP: the receiving host reassembles those before UDP, and so does this scan. The
// fragment that completes its datagram is "complete", and the datagram is then scanned as if that
// frame had carried it whole (its F or G line follows, with that frame's number); the others are
// "held", or "bad" when they overlap what their datagram already held (no such datagram is scanned).
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_LEN 10
#define VXLAN_PORT_DEFAULT 4789

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

/* Returns the IPv4 header length if p holds an IPv4 header, else 0. */
static unsigned ipv4_any_header(const unsigned char *p, size_t len)
{
	if (len < 20 || p[0] >> 4 != 4)
		return 0;
	unsigned ihl = (p[0] & 15u) * 4;
	return ihl < 20 || ihl > len ? 0 : ihl;
}

static int is_fragment(const unsigned char *ip) { return (get16(ip + 6) & 0x3fff) != 0; } /* MF or offset */

/* Returns the IPv4 header length if p holds an unfragmented IPv4 packet, else 0. */
static unsigned ipv4_header(const unsigned char *p, size_t len)
{
	unsigned ihl = ipv4_any_header(p, len);
	return ihl && !is_fragment(p) ? ihl : 0;
}

/* One inner fragment: where its bytes sit in the datagram, and the first fragment's tag. */
static void print_fragment(unsigned long frame, const struct pcap_pkthdr *h, unsigned vni,
			   const unsigned char *iip, unsigned iihl, size_t total)
{
	const char *proto = iip[9] == 17 ? "udp" : iip[9] == 6 ? "tcp" : "other";
	unsigned flags = get16(iip + 6), offset = (flags & 0x1fff) * 8;
	size_t bytes = total - iihl;
	const unsigned char *pay = iip + iihl;
	size_t hdr = iip[9] == 17 ? 8 : 0;
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, iip + 12, src, sizeof(src));
	inet_ntop(AF_INET, iip + 16, dst, sizeof(dst));
	printf("G %lu %lld.%06ld %u %s %s %s %u %u %zu %u ", frame, (long long)h->ts.tv_sec, (long)h->ts.tv_usec,
	       vni, proto, src, dst, get16(iip + 4), offset, bytes, (flags >> 13) & 1);
	if (offset == 0 && hdr && bytes >= hdr + RECORD_LEN && is_record(pay + hdr))
		printf("%.*s\n", RECORD_LEN - 1, pay + hdr);
	else
		printf("-\n");
}

/* Outer reassembly: a few datagrams at a time, keyed by source and IP id (RX_IP is the destination
 * and UDP the protocol of every one). Bytes held are marked, so an overlap or duplicate is seen. */
#define OUTER_SLOTS 16
#define OUTER_MAX 65535

struct outer_datagram {
	int used;
	unsigned char src[4];
	unsigned id;
	unsigned char header[60];
	unsigned header_len; /* 0 until the first fragment is in */
	long total;          /* payload bytes; -1 until the last fragment is in */
	size_t got;
	int bad;
	unsigned char payload[OUTER_MAX];
	unsigned char have[OUTER_MAX];
};

static struct outer_datagram outer[OUTER_SLOTS];

static struct outer_datagram *outer_slot(const unsigned char *ip)
{
	struct outer_datagram *free_slot = NULL;
	for (int i = 0; i < OUTER_SLOTS; i++) {
		if (outer[i].used && !memcmp(outer[i].src, ip + 12, 4) && outer[i].id == get16(ip + 4))
			return &outer[i];
		if (!outer[i].used && !free_slot)
			free_slot = &outer[i];
	}
	if (!free_slot) {
		fprintf(stderr, "tagscan: more than %d outer datagrams open at once\n", OUTER_SLOTS);
		exit(2);
	}
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = 1;
	memcpy(free_slot->src, ip + 12, 4);
	free_slot->id = get16(ip + 4);
	free_slot->total = -1;
	return free_slot;
}

static void scan_ip(unsigned long frame, const struct pcap_pkthdr *h, const unsigned char *ip, size_t iplen,
		    const struct in_addr *rx, unsigned vxlan_port);

/* One outer fragment (ihl: its header length, total: its IP length): queue it, and scan the
 * datagram it completes. */
static void outer_fragment(unsigned long frame, const struct pcap_pkthdr *h, const unsigned char *ip, unsigned ihl,
			   size_t total, const struct in_addr *rx, unsigned vxlan_port)
{
	struct outer_datagram *d = outer_slot(ip);
	unsigned flags = get16(ip + 6), offset = (flags & 0x1fff) * 8, more = (flags >> 13) & 1;
	size_t bytes = total - ihl;
	char src[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, ip + 12, src, sizeof(src));
	printf("O %lu %lld.%06ld %s %u %u %zu %u ", frame, (long long)h->ts.tv_sec, (long)h->ts.tv_usec, src,
	       get16(ip + 4), offset, bytes, more);
	if (offset + bytes > OUTER_MAX)
		d->bad = 1;
	for (size_t i = 0; !d->bad && i < bytes; i++)
		d->bad = d->have[offset + i];
	if (d->bad) {
		printf("bad\n");
		return;
	}
	memcpy(d->payload + offset, ip + ihl, bytes);
	memset(d->have + offset, 1, bytes);
	d->got += bytes;
	if (offset == 0) {
		memcpy(d->header, ip, ihl);
		d->header_len = ihl;
	}
	if (!more)
		d->total = (long)(offset + bytes);
	if (!d->header_len || d->total < 0 || d->got != (size_t)d->total) {
		printf("held\n");
		return;
	}
	printf("complete\n");
	static unsigned char whole[60 + OUTER_MAX];
	size_t len = d->header_len + (size_t)d->total;
	memcpy(whole, d->header, d->header_len);
	memcpy(whole + d->header_len, d->payload, (size_t)d->total);
	whole[2] = (unsigned char)(len >> 8);
	whole[3] = (unsigned char)len;
	whole[6] = whole[7] = 0;
	d->used = 0;
	scan_ip(frame, h, whole, len, rx, vxlan_port);
}

/* An IPv4 packet to RX_IP as the host's UDP sees it: VXLAN to the port, with a tagged inner packet. */
static void scan_ip(unsigned long frame, const struct pcap_pkthdr *h, const unsigned char *ip, size_t iplen,
		    const struct in_addr *rx, unsigned vxlan_port)
{
	unsigned any = ipv4_any_header(ip, iplen);
	if (any && is_fragment(ip) && ip[9] == 17 && memcmp(ip + 16, rx, 4) == 0) {
		size_t total = get16(ip + 2);
		if (total > any && total <= iplen)
			outer_fragment(frame, h, ip, any, total, rx, vxlan_port);
		return;
	}
	unsigned ihl = ipv4_header(ip, iplen);
	if (!ihl || ip[9] != 17 || memcmp(ip + 16, rx, 4) != 0)
		return;
	const unsigned char *udp = ip + ihl;
	if (iplen < ihl + 8 + 8 || get16(udp + 2) != vxlan_port)
		return;
	const unsigned char *vx = udp + 8;
	unsigned vni = (unsigned)vx[4] << 16 | (unsigned)vx[5] << 8 | vx[6];
	/* inner Ethernet, IPv4, UDP or TCP */
	const unsigned char *in = vx + 8;
	size_t inlen = iplen - ihl - 16;
	if (inlen < 14 || get16(in + 12) != 0x0800)
		return;
	const unsigned char *iip = in + 14;
	size_t iiplen = inlen - 14;
	unsigned iihl = ipv4_any_header(iip, iiplen);
	if (!iihl)
		return;
	size_t total = get16(iip + 2);
	if (total < iihl || total > iiplen)
		return;
	if (is_fragment(iip)) {
		print_fragment(frame, h, vni, iip, iihl, total);
		return;
	}
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
		return;
	}
	if (hdr < 8 || l4len <= hdr)
		return; /* no payload: not tagged */
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

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: tagscan TRACE.pcap RX_IP [VXLAN_PORT]\n");
		return 2;
	}
	unsigned vxlan_port = argc == 4 ? (unsigned)atoi(argv[3]) : VXLAN_PORT_DEFAULT;
	if (vxlan_port == 0 || vxlan_port > 65535) {
		fprintf(stderr, "tagscan: bad VXLAN port %s\n", argv[3]);
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
		/* outer Ethernet and IPv4 */
		if (len < 14 || get16(d + 12) != 0x0800)
			continue;
		scan_ip(frame, h, d + 14, len - 14, &rx, vxlan_port);
	}
	if (r == PCAP_ERROR) {
		fprintf(stderr, "tagscan: %s\n", pcap_geterr(pc));
		return 2;
	}
	printf("frames %lu\n", frame);
	pcap_close(pc);
	return 0;
}
