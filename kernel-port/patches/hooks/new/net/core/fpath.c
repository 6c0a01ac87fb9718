// SPDX-License-Identifier: GPL-2.0
/*
 * fpath: the container-overlay fastpath (include/net/fpath.h).
 *
 * The slow path of a VXLAN frame for a container:
 *
 *   vxlan_rcv -> GRO cell (NAPI) -> vxlan0 rx -> bridge (FDB) -> host-side veth
 *   xmit -> veth_forward_skb -> backlog (NAPI) -> container eth0 rx -> IP -> socket
 *
 * The fast path replaces the part between vxlan_rcv() and eth0's receive:
 * the GRO cell, the bridge, the veth and the backlog. Everything before it
 * (underlay IP, netfilter, routing, the VXLAN socket and device) and after it
 * (eth0's taps and tc, the container's IP, netfilter, socket lookup) is the
 * stack's own code, so the socket is always the one the stack chooses.
 *
 * What the map caches is the one decision that needs the frame's inner headers:
 * which container device the bridge sends the flow to. It is trusted only
 * while nothing that could change it happened (fpmap's generations), and a
 * frame takes the fast path only if every stage it skips would have been a
 * pure function of that decision: no taps, tc, XDP, bridge netfilter, qdisc,
 * VLAN filtering, learning or promiscuity on the way (checked per frame, or
 * at insertion with an invalidation on change), and no older frame of the
 * flow still queued in the stages it skips (so no reordering).
 */
#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/etherdevice.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/init.h>
#include <linux/ip.h>
#include <linux/jhash.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/netfilter_bridge.h>
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/sock_diag.h>
#include <linux/sysctl.h>
#include <net/fpath.h>
#include <net/gro_cells.h>
#include <net/ip.h>
#include <net/net_namespace.h>
#include <net/sch_generic.h>
#include <net/sock.h>

#include "fpmap.h"

/* Per CPU and per table: bounds the map's memory (see fpmap.h). */
#define FPATH_ENTRIES_PER_CPU 16384

DEFINE_STATIC_KEY_FALSE(fpath_enabled_key);
EXPORT_SYMBOL_GPL(fpath_enabled_key);

/* Made on first enable, never freed: lookups run without a reference. */
static struct fpmap *fpath_map __read_mostly;
static u32 fpath_seed __read_mostly;
static DEFINE_MUTEX(fpath_sysctl_mutex);
static int fpath_enable_value;

/* Why a hit did not take the fast path. */
enum fpath_fallback {
	FPATH_FB_NONE,
	FPATH_FB_SOCKET,	/* the socket it was cached for is gone */
	FPATH_FB_TOPOLOGY,	/* devices, bridge or MACs not as cached */
	FPATH_FB_POLICY,	/* a skipped stage would have had a say */
	FPATH_FB_BUSY,		/* older frames still queued in the skipped stages */
	FPATH_FB_GSO,		/* GSO frames take the slow path (not replicated) */
	FPATH_FB_MTU,		/* the bridge or veth would drop it as too big */
	FPATH_FB_MAX,
};

static const char *const fpath_fallback_names[FPATH_FB_MAX] = {
	[FPATH_FB_NONE] = "none",
	[FPATH_FB_SOCKET] = "socket",
	[FPATH_FB_TOPOLOGY] = "topology",
	[FPATH_FB_POLICY] = "policy",
	[FPATH_FB_BUSY] = "busy",
	[FPATH_FB_GSO] = "gso",
	[FPATH_FB_MTU] = "mtu",
};

struct fpath_stats {
	u64 delivered;		/* frames that took the fast path */
	u64 tickets;		/* misses that carry a ticket to the socket */
	u64 ticket_failures;	/* misses whose ticket could not be attached */
	u64 insert_refused;	/* tickets at a socket whose frame took another path */
	u64 fallback[FPATH_FB_MAX];
};

static DEFINE_PER_CPU(struct fpath_stats, fpath_stats);

static const char *const fpath_event_names[FPMAP_EV_MAX] = {
	[FPMAP_EV_SOCK_CLOSE] = "sock_close",
	[FPMAP_EV_SOCK_REBIND] = "sock_rebind",
	[FPMAP_EV_DEV_DOWN] = "dev_down",
	[FPMAP_EV_DEV_DELETE] = "dev_delete",
	[FPMAP_EV_FDB_CHANGE] = "fdb_change",
	[FPMAP_EV_VNI_CHANGE] = "vni_change",
	[FPMAP_EV_NETNS_EXIT] = "netns_exit",
	[FPMAP_EV_FLUSH] = "flush",
};

static struct fpmap *fpath_get_map(void)
{
	/* Pairs with smp_store_release() in fpath_start(). */
	return smp_load_acquire(&fpath_map);
}

/* The inner frame as vxlan_rcv() leaves it: Ethernet header pulled (mac
 * header set), data at the inner network header. Only unicast IPv4 TCP/UDP,
 * first fragments excluded too: the ports must be there.
 */
static bool fpath_parse(struct sk_buff *skb, struct fpmap_flow *flow)
{
	const struct iphdr *iph;
	const __be16 *ports;
	unsigned int ihl;

	if (skb->protocol != htons(ETH_P_IP) ||
	    !is_unicast_ether_addr(eth_hdr(skb)->h_dest))
		return false;
	if (!pskb_network_may_pull(skb, sizeof(*iph)))
		return false;
	iph = ip_hdr(skb);
	ihl = iph->ihl * 4;
	if (iph->version != 4 || ihl < sizeof(*iph) || ip_is_fragment(iph) ||
	    (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP))
		return false;
	if (!pskb_network_may_pull(skb, ihl + 2 * sizeof(__be16)))
		return false;
	/* The pull may have moved the headers. */
	iph = ip_hdr(skb);
	ports = (const __be16 *)(skb_network_header(skb) + ihl);

	memset(flow, 0, sizeof(*flow));
	flow->saddr = iph->saddr;
	flow->daddr = iph->daddr;
	flow->sport = ports[0];
	flow->dport = ports[1];
	flow->proto = iph->protocol;
	return true;
}

/* The bucket hash: the NIC's L4 hash when there is one (free, and one per
 * inner flow since the sender derives the outer source port from the inner
 * flow), else a hash of the key. XOR with the VXLAN device's ifindex is a
 * bijection, so per flow two VXLAN devices never share a hash, and fpmap
 * never matches an entry inserted under another hash: an entry is found only
 * through the VXLAN device (hence UDP port) it was made through, although the
 * key (5-tuple, VNI, underlay netns) does not name the port.
 */
static u32 fpath_hash(const struct sk_buff *skb, const struct fpmap_flow *flow,
		      const struct net_device *vxlan)
{
	u32 base;

	BUILD_BUG_ON(sizeof(*flow) % sizeof(u32));
	if (skb->l4_hash)
		base = skb->hash;
	else
		base = jhash2((const u32 *)flow, sizeof(*flow) / sizeof(u32), fpath_seed);
	return base ^ (u32)vxlan->ifindex;
}

static void fpath_attach_ticket(struct sk_buff *skb, u32 ticket,
				const struct fpmap_flow *flow, u32 hash,
				const struct net_device *vxlan)
{
	struct fpath_skb_ext *x = skb_ext_add(skb, SKB_EXT_FPATH);

	if (!x) {
		this_cpu_inc(fpath_stats.ticket_failures);
		return;
	}
	memset(x, 0, sizeof(*x));
	x->ticket = ticket;
	x->hash = hash;
	x->saddr = flow->saddr;
	x->daddr = flow->daddr;
	x->sport = flow->sport;
	x->dport = flow->dport;
	x->proto = flow->proto;
	x->vni = flow->vni;
	x->netns = flow->netns;
	x->vxlan = vxlan;
	this_cpu_inc(fpath_stats.tickets);
}

/* The container-side device's peer, if it is a veth pair (the only ndo_get_peer_dev in 6.1). */
static struct net_device *fpath_veth_peer(struct net_device *dev)
{
	struct net_device *peer;

	if (!dev->netdev_ops->ndo_get_peer_dev)
		return NULL;
	peer = dev->netdev_ops->ndo_get_peer_dev(dev);
	if (!peer || peer->netdev_ops != dev->netdev_ops)
		return NULL;
	return peer;
}

/* What is_skb_forwardable() lets through, for a frame of @len bytes with its Ethernet header. */
static bool fpath_fits(const struct net_device *dev, unsigned int len)
{
	return len <= dev->mtu + dev->hard_header_len + VLAN_HLEN;
}

/* The stages the fast path skips are pure functions of the cached decision:
 * nobody taps, filters, redirects, queues or shapes on the way.
 */
static bool fpath_stages_plain(struct net_device *vxlan, struct net_device *br,
			       struct net_device *peer, struct net_device *edev)
{
	struct netdev_queue *txq;

	/* Taps: on all devices, on the VXLAN device's receive, on the veth's transmit. */
	if (!list_empty(&ptype_all) || !list_empty(&vxlan->ptype_all) ||
	    !list_empty(&vxlan->ptype_specific) || !list_empty(&peer->ptype_all))
		return false;
	/* XDP: generic on the VXLAN device, native (veth NAPI) on the container side. */
	if (dev_xdp_prog_count(vxlan) || dev_xdp_prog_count(edev))
		return false;
	/* The bridge would also pass a copy up. */
	if (br->flags & IFF_PROMISC)
		return false;
#ifdef CONFIG_NET_CLS_ACT
	if (rcu_access_pointer(vxlan->miniq_ingress) ||
	    rcu_access_pointer(peer->miniq_egress))
		return false;
#endif
#ifdef CONFIG_NETFILTER_INGRESS
	if (rcu_access_pointer(vxlan->nf_hooks_ingress))
		return false;
#endif
#ifdef CONFIG_NETFILTER_EGRESS
	if (rcu_access_pointer(peer->nf_hooks_egress))
		return false;
#endif
#ifdef CONFIG_NETFILTER_FAMILY_BRIDGE
	if (rcu_access_pointer(dev_net(br)->nf.hooks_bridge[NF_BR_PRE_ROUTING]) ||
	    rcu_access_pointer(dev_net(br)->nf.hooks_bridge[NF_BR_FORWARD]) ||
	    rcu_access_pointer(dev_net(br)->nf.hooks_bridge[NF_BR_POST_ROUTING]))
		return false;
#endif
	/* The host-side veth sends on its one queue, without a qdisc. */
	if (peer->real_num_tx_queues != 1)
		return false;
	txq = netdev_get_tx_queue(peer, 0);
	if (rcu_dereference(txq->qdisc)->enqueue)
		return false;
	/* veth_xmit() takes its NAPI path (GRO) when the container side asked
	 * for GRO and the host side cannot segment (veth_skb_is_eligible_for_gro).
	 */
	if ((edev->wanted_features & NETIF_F_GRO) && !(peer->features & NETIF_F_ALL_TSO))
		return false;
	return true;
}

/* No older frame of this flow is still on its way through the stages the
 * fast path skips, on this CPU: one handed up now would overtake it (ECON B18).
 * The slow path queues a frame in the VXLAN device's GRO cell, then in the
 * backlog (veth -> netif_rx); a frame being processed from the backlog has
 * left it, so its remaining entries are all later.
 */
static bool fpath_queues_empty(struct gro_cells *cells)
{
	struct softnet_data *sd = this_cpu_ptr(&softnet_data);

	return !gro_cells_busy(cells) &&
	       !skb_queue_len_lockless(&sd->input_pkt_queue) &&
	       !skb_queue_len_lockless(&sd->process_queue);
}

/* Called under rcu_read_lock() (softirq): the devices returned stay valid until it ends. */
static enum fpath_fallback fpath_check(struct sk_buff *skb, struct net_device *vxlan,
				       struct gro_cells *cells,
				       const struct fpmap_rx_dest *dest,
				       struct net_device **edevp,
				       struct net_device **peerp)
{
	struct sock *sk = dest->sk;
	struct net_device *edev, *peer, *br;
	const struct ethhdr *eth;
	struct net *net;

	/* The socket the flow was cached for still exists. Reading it is safe:
	 * closing removes its entries first (fpmap_sock_closed, before the
	 * lookup above could have copied one, or the copy is older than the
	 * removal and RCU keeps the socket), UDP sockets are SOCK_RCU_FREE and
	 * TCP's are SLAB_TYPESAFE_BY_RCU; a reused socket has another cookie.
	 */
	if (atomic64_read(&sk->sk_cookie) != dest->sock_cookie)
		return FPATH_FB_SOCKET;
	net = sock_net(sk);
	if (net->ns.inum != dest->sock_netns || dest->dev.netns != dest->sock_netns)
		return FPATH_FB_SOCKET;

	/* vxlan0 -> bridge -> host-side veth -> container eth0, as when cached. */
	edev = dev_get_by_index_rcu(net, dest->dev.ifindex);
	peer = edev ? fpath_veth_peer(edev) : NULL;
	br = peer ? netdev_master_upper_dev_get_rcu(peer) : NULL;
	if (!br || !netif_is_bridge_master(br) || !netif_is_bridge_port(vxlan) ||
	    netdev_master_upper_dev_get_rcu(vxlan) != br ||
	    !netif_running(br) || !netif_running(peer) || !netif_running(edev))
		return FPATH_FB_TOPOLOGY;
	/* The bridge forwards by destination MAC: the cached decision is for
	 * the container's own address. A source the bridge drops is dropped.
	 */
	eth = eth_hdr(skb);
	if (!ether_addr_equal(eth->h_dest, edev->dev_addr) ||
	    !is_valid_ether_addr(eth->h_source))
		return FPATH_FB_TOPOLOGY;

	if (skb_is_gso(skb))
		return FPATH_FB_GSO;
	if (!fpath_fits(peer, skb->len + ETH_HLEN) || !fpath_fits(edev, skb->len + ETH_HLEN))
		return FPATH_FB_MTU;
	if (!fpath_stages_plain(vxlan, br, peer, edev))
		return FPATH_FB_POLICY;
	if (!fpath_queues_empty(cells))
		return FPATH_FB_BUSY;

	*edevp = edev;
	*peerp = peer;
	return FPATH_FB_NONE;
}

/* Hand the inner frame to the container device as the bridge and the veth
 * would have: the same changes to the skb, in the same order, then the
 * device's receive path without the backlog.
 */
static void fpath_deliver(struct sk_buff *skb, struct net_device *peer,
			  struct net_device *edev)
{
	unsigned int len;

	/* __br_forward(), br_forward_finish(), br_dev_queue_push_xmit() */
	skb->dev = peer;
	skb_forward_csum(skb);
	skb_clear_tstamp(skb);
	skb_push(skb, ETH_HLEN);
	/* __dev_queue_xmit() with no qdisc: one queue, no taps (checked) */
	skb_reset_mac_header(skb);
	skb_set_queue_mapping(skb, 0);
	len = skb->len;
	/* veth_xmit() -> veth_forward_skb(): scrub, eth_type_trans() on eth0 */
	if (__dev_forward_skb(edev, skb))
		return;	/* dropped (and counted) as veth would */
	dev_sw_netstats_tx_add(peer, 1, len);
	this_cpu_inc(fpath_stats.delivered);
	netif_receive_skb(skb);
}

bool __fpath_vxlan_rcv(struct sk_buff *skb, struct net_device *vxlan,
		       struct net *underlay, __be32 vni, struct gro_cells *cells)
{
	struct fpmap *map = fpath_get_map();
	struct net_device *edev, *peer;
	enum fpath_fallback why;
	struct fpmap_rx_dest dest;
	struct fpmap_flow flow;
	u32 hash, ticket;

	if (!map || !fpath_parse(skb, &flow))
		return false;
	flow.vni = be32_to_cpu(vni);
	flow.netns = underlay->ns.inum;
	hash = fpath_hash(skb, &flow, vxlan);

	if (!fpmap_rx_lookup(map, &flow, hash, &dest, &ticket)) {
		fpath_attach_ticket(skb, ticket, &flow, hash, vxlan);
		return false;
	}
	why = fpath_check(skb, vxlan, cells, &dest, &edev, &peer);
	if (why != FPATH_FB_NONE) {
		this_cpu_inc(fpath_stats.fallback[why]);
		return false;
	}
	fpath_deliver(skb, peer, edev);
	return true;
}
EXPORT_SYMBOL_GPL(__fpath_vxlan_rcv);

void __fpath_skb_hop(struct sk_buff *skb, const struct net_device *dev,
		     enum fpath_hop_kind kind, bool ok)
{
	struct fpath_skb_ext *x = skb_ext_find(skb, SKB_EXT_FPATH);

	if (!x || x->nr_hops > FPATH_HOPS_MAX)
		return;
	/* Copy on write: clones (bridge flooding, taps) share the extension. */
	x = skb_ext_add(skb, SKB_EXT_FPATH);
	if (!x) {
		skb_ext_del(skb, SKB_EXT_FPATH);
		return;
	}
	if (x->nr_hops < FPATH_HOPS_MAX) {
		x->hops[x->nr_hops].dev = dev;
		x->hops[x->nr_hops].kind = kind;
		x->hops[x->nr_hops].ok = ok;
	}
	x->nr_hops++;
}
EXPORT_SYMBOL_GPL(__fpath_skb_hop);

static int fpath_is_dev(struct net_device *dev, struct netdev_nested_priv *priv)
{
	return dev == priv->data;
}

/* The frame reached socket @sk over exactly the hops the fast path replaces,
 * unchanged (no NAT) and for this host: fill in the flow and the path. The
 * recorded devices are only compared with live ones found from skb->dev.
 */
static bool fpath_insertable(const struct fpath_skb_ext *x, struct sock *sk,
			     struct sk_buff *skb, struct fpmap_flow *flow,
			     struct fpmap_path *path)
{
	const struct fpath_hop *h = x->hops;
	struct net_device *edev = skb->dev, *peer, *br, *devs[FPMAP_PATH_MAX];
	struct netdev_nested_priv priv = { .data = (void *)x->vxlan };
	const struct iphdr *iph = ip_hdr(skb);
	const __be16 *ports = (const __be16 *)skb_transport_header(skb);
	int i;

	if (skb->pkt_type != PACKET_HOST || !sk_fullsock(sk) ||
	    !net_eq(sock_net(sk), dev_net(edev)) ||
	    iph->protocol != x->proto || iph->saddr != x->saddr ||
	    iph->daddr != x->daddr || ports[0] != x->sport || ports[1] != x->dport)
		return false;
	if (x->nr_hops != 4 ||
	    h[0].kind != FPATH_HOP_RX || h[0].dev != x->vxlan ||
	    h[1].kind != FPATH_HOP_BRIDGE || !h[1].ok ||
	    h[2].kind != FPATH_HOP_TX ||
	    h[3].kind != FPATH_HOP_RX || h[3].dev != edev)
		return false;
	peer = fpath_veth_peer(edev);
	if (!peer || peer != h[2].dev)
		return false;
	br = netdev_master_upper_dev_get_rcu(peer);
	if (!br || br != h[1].dev || !netif_is_bridge_master(br))
		return false;
	/* The VXLAN device is still a port of that bridge (so it is still there). */
	if (!netdev_walk_all_lower_dev_rcu(br, fpath_is_dev, &priv) ||
	    netdev_master_upper_dev_get_rcu((struct net_device *)x->vxlan) != br)
		return false;

	memset(flow, 0, sizeof(*flow));
	flow->saddr = x->saddr;
	flow->daddr = x->daddr;
	flow->sport = x->sport;
	flow->dport = x->dport;
	flow->proto = x->proto;
	flow->vni = x->vni;
	flow->netns = x->netns;

	devs[0] = (struct net_device *)x->vxlan;
	devs[1] = br;
	devs[2] = peer;
	devs[3] = edev;
	memset(path, 0, sizeof(*path));
	for (i = 0; i < FPMAP_PATH_MAX; i++) {
		path->dev[i].netns = dev_net(devs[i])->ns.inum;
		path->dev[i].ifindex = devs[i]->ifindex;
	}
	return true;
}

void __fpath_sk_rcv(struct sock *sk, struct sk_buff *skb)
{
	const struct fpath_skb_ext *x = skb_ext_find(skb, SKB_EXT_FPATH);
	struct fpmap *map = fpath_get_map();
	struct fpmap_rx_dest dest;
	struct fpmap_path path;
	struct fpmap_flow flow;

	if (!x)
		return;
	rcu_read_lock();
	if (map && fpath_insertable(x, sk, skb, &flow, &path)) {
		memset(&dest, 0, sizeof(dest));
		dest.sock_cookie = sock_gen_cookie(sk);
		dest.sk = sk;
		dest.sock_netns = sock_net(sk)->ns.inum;
		dest.dev.netns = dev_net(skb->dev)->ns.inum;
		dest.dev.ifindex = skb->dev->ifindex;
		/* Refused (counted by fpmap) if any event happened since the ticket. */
		fpmap_rx_insert(map, x->ticket, &flow, x->hash, &dest, &path);
	} else {
		this_cpu_inc(fpath_stats.insert_refused);
	}
	rcu_read_unlock();
	skb_ext_del(skb, SKB_EXT_FPATH);
}
EXPORT_SYMBOL_GPL(__fpath_sk_rcv);

void __fpath_sk_closed(struct sock *sk)
{
	struct fpmap *map = fpath_get_map();

	/* The cookie is made here if the socket has none: an insert for it
	 * racing with this close gets the same one (or its ticket is refused).
	 */
	if (map)
		fpmap_sock_closed(map, sock_gen_cookie(sk));
}
EXPORT_SYMBOL_GPL(__fpath_sk_closed);

void __fpath_sk_rebound(struct sock *sk, u16 port)
{
	struct fpmap *map = fpath_get_map();

	if (map)
		fpmap_sock_rebound(map, sock_net(sk)->ns.inum, sk->sk_protocol, port);
}
EXPORT_SYMBOL_GPL(__fpath_sk_rebound);

void __fpath_dev_event(const struct net_device *dev, enum fpath_dev_event event)
{
	static const enum fpmap_event map_event[] = {
		[FPATH_EV_DEV_DOWN] = FPMAP_EV_DEV_DOWN,
		[FPATH_EV_DEV_DELETE] = FPMAP_EV_DEV_DELETE,
		[FPATH_EV_FDB_CHANGE] = FPMAP_EV_FDB_CHANGE,
		[FPATH_EV_VNI_CHANGE] = FPMAP_EV_VNI_CHANGE,
	};
	struct fpmap *map = fpath_get_map();
	struct fpmap_dev d;

	if (!map)
		return;
	d.netns = dev_net(dev)->ns.inum;
	d.ifindex = dev->ifindex;
	fpmap_dev_event(map, &d, map_event[event]);
}
EXPORT_SYMBOL_GPL(__fpath_dev_event);

static int fpath_netdev_event(struct notifier_block *nb, unsigned long event,
			      void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	switch (event) {
	case NETDEV_DOWN:
	case NETDEV_CHANGE:		/* carrier: bridge port state follows it */
	case NETDEV_CHANGEADDR:
	case NETDEV_CHANGEMTU:
	case NETDEV_CHANGEUPPER:	/* enslaved to or released from a bridge */
		fpath_dev_event(dev, FPATH_EV_DEV_DOWN);
		break;
	case NETDEV_UNREGISTER:		/* also when moving to another netns */
		fpath_dev_event(dev, FPATH_EV_DEV_DELETE);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block fpath_netdev_notifier = {
	.notifier_call = fpath_netdev_event,
};

static void __net_exit fpath_net_exit(struct net *net)
{
	struct fpmap *map = fpath_get_map();

	if (map)
		fpmap_netns_exit(map, net->ns.inum);
}

static struct pernet_operations fpath_net_ops = {
	.exit = fpath_net_exit,
};

/* Under fpath_sysctl_mutex. */
static int fpath_start(void)
{
	struct fpmap_config config = { .entries_per_cpu = FPATH_ENTRIES_PER_CPU };
	struct fpmap *map = fpath_map;

	if (!map) {
		map = fpmap_create(&config);
		if (!map)
			return -ENOMEM;
		/* The map is complete before a reader can see it (fpath_get_map). */
		smp_store_release(&fpath_map, map);
	}
	/* Tickets taken before now are refused: start from a clean map. */
	fpmap_flush(map);
	static_branch_enable(&fpath_enabled_key);
	return 0;
}

/* Under fpath_sysctl_mutex. */
static int fpath_stop(void)
{
	static_branch_disable(&fpath_enabled_key);
	if (fpath_map)
		fpmap_flush(fpath_map);
	return 0;
}

static int fpath_enable_sysctl(struct ctl_table *table, int write, void *buffer,
			       size_t *lenp, loff_t *ppos)
{
	struct ctl_table tmp = *table;
	int val, err;

	if (write && !capable(CAP_NET_ADMIN))
		return -EPERM;
	mutex_lock(&fpath_sysctl_mutex);
	val = fpath_enable_value;
	tmp.data = &val;
	err = proc_dointvec_minmax(&tmp, write, buffer, lenp, ppos);
	if (!err && write && val != fpath_enable_value) {
		err = val ? fpath_start() : fpath_stop();
		if (!err)
			fpath_enable_value = val;
	}
	mutex_unlock(&fpath_sysctl_mutex);
	return err;
}

static int fpath_flush_sysctl(struct ctl_table *table, int write, void *buffer,
			      size_t *lenp, loff_t *ppos)
{
	struct ctl_table tmp = *table;
	struct fpmap *map;
	int val = 0, err;

	if (!write || !capable(CAP_NET_ADMIN))
		return -EPERM;
	tmp.data = &val;
	err = proc_dointvec(&tmp, write, buffer, lenp, ppos);
	if (err)
		return err;
	map = fpath_get_map();
	if (map)
		fpmap_flush(map);
	return 0;
}

static struct ctl_table fpath_sysctl_table[] = {
	{
		.procname	= "fpmap_enable",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= fpath_enable_sysctl,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE,
	},
	{
		.procname	= "fpmap_flush",
		.maxlen		= sizeof(int),
		.mode		= 0200,
		.proc_handler	= fpath_flush_sysctl,
	},
	{ }
};

/* Totals only: no addresses, no keys (none of ECON's B19). */
static int fpath_stat_show(struct seq_file *seq, void *v)
{
	struct fpmap *map = fpath_get_map();
	struct fpmap_stats sum = {}, s;
	struct fpath_stats fsum = {};
	int cpu, i;

	for_each_possible_cpu(cpu) {
		const struct fpath_stats *f = per_cpu_ptr(&fpath_stats, cpu);

		if (map) {
			fpmap_cpu_stats(map, cpu, &s);
			sum.hits += s.hits;
			sum.misses += s.misses;
			sum.stale += s.stale;
			sum.inserts += s.inserts;
			sum.insert_races += s.insert_races;
			sum.alloc_failures += s.alloc_failures;
			sum.evictions += s.evictions;
			sum.invalidated += s.invalidated;
			sum.entries += s.entries;
		}
		fsum.delivered += READ_ONCE(f->delivered);
		fsum.tickets += READ_ONCE(f->tickets);
		fsum.ticket_failures += READ_ONCE(f->ticket_failures);
		fsum.insert_refused += READ_ONCE(f->insert_refused);
		for (i = 0; i < FPATH_FB_MAX; i++)
			fsum.fallback[i] += READ_ONCE(f->fallback[i]);
	}
	seq_printf(seq, "enabled %d\n", static_key_enabled(&fpath_enabled_key));
	seq_printf(seq, "entries %llu\n", sum.entries);
	seq_printf(seq, "hits %llu\n", sum.hits);
	seq_printf(seq, "misses %llu\n", sum.misses);
	seq_printf(seq, "stale %llu\n", sum.stale);
	seq_printf(seq, "inserts %llu\n", sum.inserts);
	seq_printf(seq, "insert_races %llu\n", sum.insert_races);
	seq_printf(seq, "alloc_failures %llu\n", sum.alloc_failures);
	seq_printf(seq, "evictions %llu\n", sum.evictions);
	seq_printf(seq, "invalidated %llu\n", sum.invalidated);
	seq_printf(seq, "delivered %llu\n", fsum.delivered);
	seq_printf(seq, "tickets %llu\n", fsum.tickets);
	seq_printf(seq, "ticket_failures %llu\n", fsum.ticket_failures);
	seq_printf(seq, "insert_refused %llu\n", fsum.insert_refused);
	for (i = FPATH_FB_NONE + 1; i < FPATH_FB_MAX; i++)
		seq_printf(seq, "fallback_%s %llu\n", fpath_fallback_names[i],
			   fsum.fallback[i]);
	for (i = 0; i < FPMAP_EV_MAX; i++)
		seq_printf(seq, "event_%s %llu\n", fpath_event_names[i],
			   map ? fpmap_event_count(map, i) : 0);
	return 0;
}

static int __init fpath_init(void)
{
	int err;

	fpath_seed = get_random_u32();
	err = register_pernet_subsys(&fpath_net_ops);
	if (err)
		return err;
	err = register_netdevice_notifier(&fpath_netdev_notifier);
	if (err)
		goto err_pernet;
	/* init_net only: one map for the whole host, one knob. */
	if (!register_net_sysctl(&init_net, "net/core", fpath_sysctl_table)) {
		err = -ENOMEM;
		goto err_notifier;
	}
	if (IS_ENABLED(CONFIG_PROC_FS) &&
	    !proc_create_single("fpmap_stat", 0444, init_net.proc_net, fpath_stat_show))
		pr_warn("fpath: could not create /proc/net/fpmap_stat\n");
	return 0;

err_notifier:
	unregister_netdevice_notifier(&fpath_netdev_notifier);
err_pernet:
	unregister_pernet_subsys(&fpath_net_ops);
	return err;
}
late_initcall(fpath_init);
