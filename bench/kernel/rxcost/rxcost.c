// SPDX-License-Identifier: GPL-2.0
/*
 * rxcost: the CPU cost of receiving a UDP datagram, measured inside a
 * User-Mode Linux kernel (bench/kernel/run).
 *
 * It builds one UDP frame with a 64-byte payload, plain or encapsulated in
 * VXLAN, and hands copies of it to the stack as a NIC driver would
 * (allocate, copy, eth_type_trans, netif_receive_skb) on a device, a batch
 * at a time with bottom halves disabled, so that the softirqs the batch
 * raises (GRO cells, backlogs) run when they are enabled again, inside the
 * timed window. The window is timed with the host's CPU clock of the thread
 * that runs UML (rxcost_host.h). A kernel UDP socket bound in the receiving
 * namespace is drained after each window, outside it, and its datagrams are
 * counted: a run that lost any says so.
 *
 * Driven through /proc/rxcost by a process in the namespace of the device
 * or socket concerned (the module is never unloaded: that hangs UML 6.1):
 *
 *   sock PORT      bind a kernel UDP socket to 0.0.0.0:PORT in the
 *                  writer's network namespace
 *   run DEV BATCH ROUNDS SMAC DMAC SADDR DADDR DPORT
 *                  inject a plain UDP frame on DEV (in the writer's
 *                  namespace) to the socket bound to DPORT
 *   run DEV BATCH ROUNDS SMAC DMAC SADDR DADDR DPORT VNI ISMAC IDMAC
 *       ISADDR IDADDR IDPORT
 *                  the same frame (inner addresses, to the socket bound to
 *                  IDPORT) in VXLAN to DPORT with VNI
 *
 * Reading /proc/rxcost gives the last run's line: frames sent and
 * datagrams received, the clock reads' calibrated cost and the ns of CPU
 * per datagram (median over the rounds, quartiles, mean).
 */

#include <linux/delay.h>
#include <linux/etherdevice.h>
#include <linux/inet.h>
#include <linux/ip.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/udp.h>
#include <linux/uaccess.h>
#include <net/ip.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/vxlan.h>

#include "rxcost_host.h"

#define RXCOST_PAYLOAD 64
#define RXCOST_MAX_BATCH 256
#define RXCOST_MAX_ROUNDS 100000
#define RXCOST_MAX_SOCKS 8
/* Rounds run before the timed ones: caches, the flow map's first miss. */
#define RXCOST_WARM_ROUNDS 8
/* Back-to-back clock reads that calibrate the cost of the reads. */
#define RXCOST_CALIB_READS 64
#define RXCOST_FRAME_MAX 256
#define RXCOST_CMD_MAX 512
#define RXCOST_OUTER_SPORT 49152
#define RXCOST_INNER_SPORT 40000

struct rxcost_flow {
	u8 smac[ETH_ALEN];
	u8 dmac[ETH_ALEN];
	__be32 saddr;
	__be32 daddr;
	u16 sport;
	u16 dport;
};

struct rxcost_sock {
	struct socket *sock;
	u16 port;
};

static DEFINE_MUTEX(rxcost_lock);
static struct rxcost_sock rxcost_socks[RXCOST_MAX_SOCKS];
static char rxcost_result[RXCOST_CMD_MAX] = "no run yet\n";

/* The host thread's CPU time in ns; 0 if the host refused. */
static u64 rxcost_cpu_ns(void)
{
	struct rxcost_host_timespec ts;

	if (syscall(RXCOST_HOST_NR_CLOCK_GETTIME,
		    RXCOST_HOST_CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (u64)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int rxcost_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* A batch's CPU time in tenths of a ns per datagram. */
static u64 rxcost_tenths(u64 batch_ns, unsigned int batch)
{
	return div_u64(batch_ns * 10, batch);
}

/* Ethernet, IPv4 and UDP headers for @flow, then @payload_len bytes. */
static unsigned int rxcost_put_udp(u8 *p, const struct rxcost_flow *flow,
				   const u8 *payload, unsigned int payload_len)
{
	struct ethhdr *eth = (struct ethhdr *)p;
	struct iphdr *iph = (struct iphdr *)(eth + 1);
	struct udphdr *uh = (struct udphdr *)(iph + 1);
	unsigned int udp_len = sizeof(*uh) + payload_len;

	ether_addr_copy(eth->h_dest, flow->dmac);
	ether_addr_copy(eth->h_source, flow->smac);
	eth->h_proto = htons(ETH_P_IP);
	memset(iph, 0, sizeof(*iph));
	iph->version = 4;
	iph->ihl = 5;
	iph->tot_len = htons(sizeof(*iph) + udp_len);
	iph->frag_off = htons(IP_DF);
	iph->ttl = 64;
	iph->protocol = IPPROTO_UDP;
	iph->saddr = flow->saddr;
	iph->daddr = flow->daddr;
	iph->check = ip_fast_csum(iph, iph->ihl);
	uh->source = htons(flow->sport);
	uh->dest = htons(flow->dport);
	uh->len = htons(udp_len);
	/* No UDP checksum, on either path: IPv4 allows it, and a NIC's offload
	 * would make checking it nearly free; the comparison stays fair.
	 */
	uh->check = 0;
	memcpy(uh + 1, payload, payload_len);
	return sizeof(*eth) + sizeof(*iph) + udp_len;
}

/*
 * The frame: plain if @inner is NULL, else @inner's frame in VXLAN. Not
 * inlined: its scratch buffers stay off the /proc writer's stack frame.
 */
static noinline unsigned int rxcost_build(u8 *frame,
					  const struct rxcost_flow *outer,
					  const struct rxcost_flow *inner,
					  u32 vni)
{
	u8 payload[RXCOST_PAYLOAD];
	u8 encap[RXCOST_FRAME_MAX];
	struct vxlanhdr *vxh = (struct vxlanhdr *)encap;
	unsigned int i, len;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = i;
	if (!inner)
		return rxcost_put_udp(frame, outer, payload, sizeof(payload));
	vxh->vx_flags = VXLAN_HF_VNI;
	vxh->vx_vni = vxlan_vni_field(cpu_to_be32(vni));
	len = rxcost_put_udp(encap + sizeof(*vxh), inner, payload,
			     sizeof(payload));
	return rxcost_put_udp(frame, outer, encap, sizeof(*vxh) + len);
}

/* As a driver would: a new skb, the frame copied in, to the stack. */
static int rxcost_inject(struct net_device *dev, const u8 *frame,
			 unsigned int len)
{
	struct sk_buff *skb = netdev_alloc_skb_ip_align(dev, len);

	if (!skb)
		return -ENOMEM;
	skb_put_data(skb, frame, len);
	skb->protocol = eth_type_trans(skb, dev);
	netif_receive_skb(skb);
	return 0;
}

/* Reads every queued datagram; counts those that are not the payload. */
static unsigned int rxcost_drain(struct socket *sock, unsigned int *bad)
{
	u8 buf[RXCOST_PAYLOAD * 2];
	unsigned int count = 0;
	struct msghdr msg;
	struct kvec iov;
	int n;

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		n = kernel_recvmsg(sock, &msg, &iov, 1, sizeof(buf),
				   MSG_DONTWAIT);
		if (n < 0)
			break;
		count++;
		if (n != RXCOST_PAYLOAD || buf[RXCOST_PAYLOAD - 1] != RXCOST_PAYLOAD - 1)
			(*bad)++;
	}
	return count;
}

static struct socket *rxcost_find_sock(u16 port)
{
	int i;

	for (i = 0; i < RXCOST_MAX_SOCKS; i++)
		if (rxcost_socks[i].sock && rxcost_socks[i].port == port)
			return rxcost_socks[i].sock;
	return NULL;
}

static int rxcost_sock_add(struct net *net, u16 port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	struct socket *sock;
	int i, err;

	if (rxcost_find_sock(port))
		return -EADDRINUSE;
	for (i = 0; i < RXCOST_MAX_SOCKS && rxcost_socks[i].sock; i++)
		;
	if (i == RXCOST_MAX_SOCKS)
		return -ENOSPC;
	err = sock_create_kern(net, AF_INET, SOCK_DGRAM, IPPROTO_UDP, &sock);
	if (err)
		return err;
	err = kernel_bind(sock, (struct sockaddr *)&addr, sizeof(addr));
	if (err) {
		sock_release(sock);
		return err;
	}
	/* Room for a whole batch between drains, whatever rmem_default. */
	sock_set_rcvbuf(sock->sk, 8 << 20);
	rxcost_socks[i].sock = sock;
	rxcost_socks[i].port = port;
	return 0;
}

struct rxcost_run {
	struct net_device *dev;
	struct socket *sock;
	unsigned int batch;
	unsigned int rounds;
	unsigned int frame_len;
	u8 frame[RXCOST_FRAME_MAX];
	u64 calib[RXCOST_CALIB_READS];
};

static int rxcost_measure(struct rxcost_run *run, const char *what)
{
	unsigned int r, i, bad = 0, received = 0, short_rounds = 0, got;
	unsigned int total = RXCOST_WARM_ROUNDS + run->rounds;
	u64 t0, t1, sum = 0, overhead;
	u64 median, q1, q3, mean;
	u64 *cost;
	int err = 0;

	cost = kvmalloc_array(run->rounds, sizeof(*cost), GFP_KERNEL);
	if (!cost)
		return -ENOMEM;
	for (i = 0; i < RXCOST_CALIB_READS; i++) {
		t0 = rxcost_cpu_ns();
		t1 = rxcost_cpu_ns();
		run->calib[i] = t1 - t0;
	}
	sort(run->calib, RXCOST_CALIB_READS, sizeof(u64), rxcost_cmp_u64, NULL);
	overhead = run->calib[RXCOST_CALIB_READS / 2];
	if (!t0) {
		err = -EIO;
		goto out;
	}
	rxcost_drain(run->sock, &bad);
	bad = 0;
	for (r = 0; r < total; r++) {
		t0 = rxcost_cpu_ns();
		local_bh_disable();
		for (i = 0; i < run->batch && !err; i++)
			err = rxcost_inject(run->dev, run->frame, run->frame_len);
		local_bh_enable();
		t1 = rxcost_cpu_ns();
		if (err)
			goto out;
		got = rxcost_drain(run->sock, &bad);
		received += got;
		/* Fewer means some were deferred to ksoftirqd, outside the window. */
		if (got != run->batch)
			short_rounds++;
		if (r >= RXCOST_WARM_ROUNDS)
			cost[r - RXCOST_WARM_ROUNDS] = t1 - t0 > overhead ? t1 - t0 - overhead : 0;
		cond_resched();
	}
	/* Stragglers (a deferred softirq) still count as received. */
	msleep(20);
	received += rxcost_drain(run->sock, &bad);
	for (r = 0; r < run->rounds; r++)
		sum += cost[r];
	sort(cost, run->rounds, sizeof(u64), rxcost_cmp_u64, NULL);
	median = rxcost_tenths(cost[run->rounds / 2], run->batch);
	q1 = rxcost_tenths(cost[run->rounds / 4], run->batch);
	q3 = rxcost_tenths(cost[run->rounds * 3 / 4], run->batch);
	mean = rxcost_tenths(div_u64(sum, run->rounds), run->batch);
	snprintf(rxcost_result, sizeof(rxcost_result),
		 "rxcost: %s dev=%s len=%u batch=%u rounds=%u warm=%u sent=%u received=%u lost=%d bad=%u short_rounds=%u calib_ns=%llu ns_per_dgram=%llu.%llu q1=%llu.%llu q3=%llu.%llu mean=%llu.%llu\n",
		 what, run->dev->name, run->frame_len, run->batch, run->rounds,
		 RXCOST_WARM_ROUNDS, total * run->batch, received,
		 (int)(total * run->batch) - (int)received, bad, short_rounds,
		 overhead, median / 10, median % 10, q1 / 10, q1 % 10,
		 q3 / 10, q3 % 10, mean / 10, mean % 10);
out:
	kvfree(cost);
	return err;
}

static int rxcost_parse_flow(char **args, struct rxcost_flow *flow, u16 sport)
{
	char *smac = strsep(args, " "), *dmac = strsep(args, " ");
	char *saddr = strsep(args, " "), *daddr = strsep(args, " ");
	char *dport = strsep(args, " ");

	if (!dport || !mac_pton(smac, flow->smac) || !mac_pton(dmac, flow->dmac) ||
	    !in4_pton(saddr, -1, (u8 *)&flow->saddr, -1, NULL) ||
	    !in4_pton(daddr, -1, (u8 *)&flow->daddr, -1, NULL) ||
	    kstrtou16(dport, 10, &flow->dport))
		return -EINVAL;
	flow->sport = sport;
	return 0;
}

static int rxcost_cmd_run(struct net *net, char *args)
{
	char *dev_name = strsep(&args, " "), *batch = strsep(&args, " ");
	char *rounds = strsep(&args, " "), *vni_arg;
	struct rxcost_flow outer, inner;
	struct rxcost_run *run;
	u32 vni = 0;
	int err;

	run = kzalloc(sizeof(*run), GFP_KERNEL);
	if (!run)
		return -ENOMEM;
	err = -EINVAL;
	if (!rounds || kstrtouint(batch, 10, &run->batch) ||
	    kstrtouint(rounds, 10, &run->rounds) || !run->batch ||
	    run->batch > RXCOST_MAX_BATCH || !run->rounds ||
	    run->rounds > RXCOST_MAX_ROUNDS ||
	    rxcost_parse_flow(&args, &outer, RXCOST_OUTER_SPORT))
		goto out;
	vni_arg = strsep(&args, " ");
	if (vni_arg) {
		if (kstrtou32(vni_arg, 10, &vni) ||
		    rxcost_parse_flow(&args, &inner, RXCOST_INNER_SPORT) || args)
			goto out;
		run->frame_len = rxcost_build(run->frame, &outer, &inner, vni);
	} else {
		run->frame_len = rxcost_build(run->frame, &outer, NULL, 0);
	}
	err = -ENOENT;
	run->sock = rxcost_find_sock(vni_arg ? inner.dport : outer.dport);
	if (!run->sock)
		goto out;
	err = -ENODEV;
	run->dev = dev_get_by_name(net, dev_name);
	if (!run->dev)
		goto out;
	err = rxcost_measure(run, vni_arg ? "vxlan" : "plain");
	dev_put(run->dev);
out:
	kfree(run);
	return err;
}

static ssize_t rxcost_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct net *net = current->nsproxy->net_ns;
	char *cmd, *args, *verb;
	u16 port;
	int err;

	if (count >= RXCOST_CMD_MAX)
		return -EINVAL;
	cmd = memdup_user_nul(ubuf, count);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	args = strim(cmd);
	verb = strsep(&args, " ");
	mutex_lock(&rxcost_lock);
	if (!strcmp(verb, "sock") && args && !kstrtou16(args, 10, &port))
		err = rxcost_sock_add(net, port);
	else if (!strcmp(verb, "run") && args)
		err = rxcost_cmd_run(net, args);
	else
		err = -EINVAL;
	mutex_unlock(&rxcost_lock);
	kfree(cmd);
	return err ? err : count;
}

static int rxcost_show(struct seq_file *m, void *v)
{
	mutex_lock(&rxcost_lock);
	seq_puts(m, rxcost_result);
	mutex_unlock(&rxcost_lock);
	return 0;
}

static int rxcost_open(struct inode *inode, struct file *file)
{
	return single_open(file, rxcost_show, NULL);
}

static const struct proc_ops rxcost_proc_ops = {
	.proc_open = rxcost_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = rxcost_write,
};

static int __init rxcost_init(void)
{
	if (!proc_create("rxcost", 0600, NULL, &rxcost_proc_ops))
		return -ENOMEM;
	return 0;
}
module_init(rxcost_init);

/* No exit function: the module stays until UML halts (unloading hangs it). */
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Receive cost of UDP datagrams in User-Mode Linux, host or VXLAN path");
