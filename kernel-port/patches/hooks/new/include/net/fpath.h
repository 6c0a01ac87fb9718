/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fpath: the container-overlay fastpath, as the stack sees it.
 *
 * A VXLAN frame whose inner flow was delivered before, by the slow path, to a
 * socket behind bridge -> veth, skips the VXLAN device's GRO cell, the bridge,
 * the veth pair and the backlog: vxlan_rcv() hands the inner frame straight to
 * the container's eth0 (netif_receive_skb), whose own stack (taps, tc, IP,
 * netfilter, routing, socket lookup) runs as usual. The flow map
 * (net/core/fpmap.[ch]) remembers the container device per flow; it is
 * filled where the slow path found the socket, with the ticket taken when
 * vxlan_rcv() missed, and emptied by every event that could change its answer.
 *
 * Everything here is off until root writes 1 to net.core.fpmap_enable.
 */
#ifndef _NET_FPATH_H
#define _NET_FPATH_H

#include <linux/jump_label.h>
#include <linux/skbuff.h>
#include <linux/types.h>

struct gro_cells;
struct net;
struct net_device;
struct sock;

/* What a device event means to the map (each bumps the device's generation). */
enum fpath_dev_event {
	FPATH_EV_DEV_DOWN,	/* down, address/MTU/carrier/upper change */
	FPATH_EV_DEV_DELETE,	/* unregistered, or moved to another netns */
	FPATH_EV_FDB_CHANGE,	/* bridge: FDB, port state or port flags changed */
	FPATH_EV_VNI_CHANGE,	/* VXLAN: configuration changed */
};

/* The hops a frame takes after vxlan_rcv() missed, as the ticket records them. */
enum fpath_hop_kind {
	FPATH_HOP_RX = 1,	/* __netif_receive_skb_core() on the device */
	FPATH_HOP_TX,		/* __dev_queue_xmit() on the device */
	FPATH_HOP_BRIDGE,	/* br_handle_frame_finish() forwarded it */
};

#define FPATH_HOPS_MAX 4

struct fpath_hop {
	/* Compared, never dereferenced: the ticket holds no reference. */
	const struct net_device *dev;
	u8 kind;
	u8 ok;		/* BRIDGE: nothing the bridge did depended on more than the FDB */
};

/* SKB_EXT_FPATH: the ticket of a missed lookup, carried to the socket.
 * skb_scrub_packet() keeps it (only it) across the veth; it is dropped where
 * the socket is found, and trusted there only if the hops are exactly
 * vxlan (RX) -> bridge -> host-side veth (TX) -> container device (RX).
 */
struct fpath_skb_ext {
	u32 ticket;
	u32 hash;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	u8 proto;
	u8 nr_hops;	/* FPATH_HOPS_MAX + 1: more hops than the fast path replaces */
	u32 vni;
	u32 netns;
	const struct net_device *vxlan;
	struct fpath_hop hops[FPATH_HOPS_MAX];
};

#if IS_ENABLED(CONFIG_NET_FPATH)

DECLARE_STATIC_KEY_FALSE(fpath_enabled_key);

bool __fpath_vxlan_rcv(struct sk_buff *skb, struct net_device *vxlan,
		       struct net *underlay, __be32 vni,
		       struct gro_cells *cells);
void __fpath_skb_hop(struct sk_buff *skb, const struct net_device *dev,
		     enum fpath_hop_kind kind, bool ok);
void __fpath_sk_rcv(struct sock *sk, struct sk_buff *skb);
void __fpath_sk_closed(struct sock *sk);
void __fpath_sk_rebound(struct sock *sk, u16 port);
void __fpath_dev_event(const struct net_device *dev, enum fpath_dev_event event);

static inline bool fpath_enabled(void)
{
	return static_branch_unlikely(&fpath_enabled_key);
}

/* vxlan_rcv(), instead of gro_cells_receive(): true if the frame went the
 * fast path (it is consumed), false if the caller goes on as usual.
 */
static inline bool fpath_vxlan_rcv(struct sk_buff *skb, struct net_device *vxlan,
				   struct net *underlay, __be32 vni,
				   struct gro_cells *cells)
{
	return fpath_enabled() && __fpath_vxlan_rcv(skb, vxlan, underlay, vni, cells);
}

static inline void fpath_skb_hop(struct sk_buff *skb, const struct net_device *dev,
				 enum fpath_hop_kind kind, bool ok)
{
	if (fpath_enabled() && skb_ext_exist(skb, SKB_EXT_FPATH))
		__fpath_skb_hop(skb, dev, kind, ok);
}

/* Where TCP and UDP found the socket for a frame: caches it if the frame carries a ticket. */
static inline void fpath_sk_rcv(struct sock *sk, struct sk_buff *skb)
{
	if (fpath_enabled() && skb_ext_exist(skb, SKB_EXT_FPATH))
		__fpath_sk_rcv(sk, skb);
}

/* After the socket left the lookup tables for good. */
static inline void fpath_sk_closed(struct sock *sk)
{
	if (fpath_enabled())
		__fpath_sk_closed(sk);
}

/* After a bind, connect, disconnect, listen or unhash took effect on local port @port. */
static inline void fpath_sk_rebound(struct sock *sk, u16 port)
{
	if (fpath_enabled())
		__fpath_sk_rebound(sk, port);
}

/* After the change took effect. */
static inline void fpath_dev_event(const struct net_device *dev,
				   enum fpath_dev_event event)
{
	if (fpath_enabled())
		__fpath_dev_event(dev, event);
}

#else /* !CONFIG_NET_FPATH */

static inline bool fpath_enabled(void)
{
	return false;
}

static inline bool fpath_vxlan_rcv(struct sk_buff *skb, struct net_device *vxlan,
				   struct net *underlay, __be32 vni,
				   struct gro_cells *cells)
{
	return false;
}

static inline void fpath_skb_hop(struct sk_buff *skb, const struct net_device *dev,
				 enum fpath_hop_kind kind, bool ok)
{
}

static inline void fpath_sk_rcv(struct sock *sk, struct sk_buff *skb)
{
}

static inline void fpath_sk_closed(struct sock *sk)
{
}

static inline void fpath_sk_rebound(struct sock *sk, u16 port)
{
}

static inline void fpath_dev_event(const struct net_device *dev,
				   enum fpath_dev_event event)
{
}

#endif /* CONFIG_NET_FPATH */

#endif /* _NET_FPATH_H */
