/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fpmap: the overlay fastpath's flow map.
 *
 * Per CPU, an RX table (inner flow -> destination socket and device) and a TX
 * table (a socket's flow -> cached outer Ethernet/IPv4/UDP/VXLAN header).
 * A hit needs the whole key to match: the caller's hash only picks the bucket.
 * An entry is trusted only while nothing that could change the slow path's
 * answer for it has happened since it was made: every entry carries the
 * generations of what can shadow it (its socket's port, its namespace, every
 * device the slow path crossed) and lookups compare them. See README.md.
 *
 * Context: every function may be called from process or softirq context,
 * except fpmap_create() and fpmap_destroy(), which may sleep.
 */
#ifndef FPMAP_H
#define FPMAP_H

#include <linux/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A flow as the socket sees it: the inner 5-tuple, plus where it came from.
 * RX: vni is the VXLAN network identifier and netns the namespace in which the
 * lookup starts (the underlay's). TX: vni is 0 and netns the socket's namespace.
 * Padding must be zero: keys are compared as bytes.
 */
struct fpmap_flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	u8 proto;
	u8 pad[3];
	u32 vni;
	u32 netns;
};

/* A device is named by its namespace and ifindex: ifindexes repeat across namespaces. */
struct fpmap_dev {
	u32 netns;
	int ifindex;
};

/* The devices the slow path crossed for this flow; unused slots have ifindex 0. */
#define FPMAP_PATH_MAX 4
struct fpmap_path {
	struct fpmap_dev dev[FPMAP_PATH_MAX];
};

/*
 * An RX entry's reordering record (issue 13, defect 2): whether frames of the
 * flow that went the slow way may still be queued where a hit would overtake
 * them, and if so at which positions of which queues (the caller's to define,
 * e.g. a GRO cell's and a backlog's enqueue counts, as RFS keeps a queue tail
 * per flow). The map only keeps it: an insert makes it FPMAP_ORDER_UNKNOWN
 * (frames that missed before the entry existed may be queued anywhere), a
 * lookup hands it out, fpmap_rx_set_order() writes it back.
 */
enum fpmap_order_state {
	FPMAP_ORDER_CLEAR,	/* nothing of the flow is queued */
	FPMAP_ORDER_UNKNOWN,	/* as inserted: anything may be */
	FPMAP_ORDER_QUEUED,	/* queued up to the positions in mark[]; this and */
				/* any state above it (up to 255) is the caller's */
};

#define FPMAP_ORDER_MARKS 2

struct fpmap_rx_order {
	u32 state;		/* enum fpmap_order_state, or a caller's state above */
	u32 mark[FPMAP_ORDER_MARKS];	/* from FPMAP_ORDER_QUEUED on */
	/* The entry as the lookup found it: set_order writes only there. */
	u32 slot;
	u32 seq;
};

/*
 * Where an RX flow ends: the socket and the device it was received on, which
 * is in the socket's namespace (an insert where it is not fails, -EINVAL).
 * The reordering record is the lookup's output; an insert ignores it.
 */
struct fpmap_rx_dest {
	u64 sock_cookie;	/* never reused, unlike a socket's address */
	void *sk;		/* the caller's handle; meaningful only with the cookie */
	u32 sock_netns;
	struct fpmap_dev dev;
	struct fpmap_rx_order order;
};

#define FPMAP_OUTER_LEN 50	/* Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 */
#define FPMAP_INNER_MACS_LEN 12	/* inner destination and source MAC */

/* What a TX hit gives: the outer header template and where to send it. */
struct fpmap_tx_template {
	u8 outer[FPMAP_OUTER_LEN];
	u8 inner_macs[FPMAP_INNER_MACS_LEN];
	struct fpmap_dev egress;
};

struct fpmap_config {
	unsigned int entries_per_cpu;	/* per table; the bound on memory */
	unsigned int generation_slots;	/* 0: a default that scales with entries */
};

/* The events that can make a cached answer wrong, one counter each. */
enum fpmap_event {
	FPMAP_EV_SOCK_CLOSE,
	FPMAP_EV_SOCK_REBIND,	/* bind, connect, disconnect, listen */
	FPMAP_EV_DEV_DOWN,
	FPMAP_EV_DEV_DELETE,
	FPMAP_EV_FDB_CHANGE,
	FPMAP_EV_VNI_CHANGE,
	FPMAP_EV_NETNS_EXIT,
	FPMAP_EV_FLUSH,
	FPMAP_EV_MAX,
};

/* The map's two tables: RX (destination sockets) and TX (outer headers). */
enum fpmap_table_kind {
	FPMAP_RX,
	FPMAP_TX,
};

/* Per CPU and table; readers count hits/misses/stale, writers the rest. */
struct fpmap_stats {
	u64 hits;
	u64 misses;
	u64 stale;		/* a key matched but a generation did not */
	u64 inserts;
	u64 insert_races;	/* an event happened during the slow path: not cached */
	u64 alloc_failures;
	u64 evictions;
	u64 invalidated;	/* entries removed by an event (close, flush) */
	u64 entries;		/* live now */
};

struct fpmap;

struct fpmap *fpmap_create(const struct fpmap_config *config);
void fpmap_destroy(struct fpmap *map);

/*
 * A ticket is taken before the slow path decides (lookups fill one in, hit
 * or miss); the insert that caches the decision refuses if any event happened
 * since, as the decision may predate it. The epoch is 64-bit: a 32-bit one
 * comes back to the same value after 2^31 events (two moves each), and a
 * ticket or an entry's checked epoch from before them would pass as current.
 */
struct fpmap_ticket {
	u64 epoch;
	/*
	 * The CPU the lookup ran on: the insert goes to that CPU's table,
	 * where the flow's next lookup runs, wherever the socket (and the
	 * insert) is. With RPS or threaded NAPI that is another CPU.
	 */
	u32 cpu;
};

/* A ticket for the calling CPU, without a lookup. */
struct fpmap_ticket fpmap_take_ticket(struct fpmap *map);
/* On a hit, true and *dest filled in; on a miss, *dest may hold anything. */
bool fpmap_rx_lookup(struct fpmap *map, const struct fpmap_flow *flow, u32 hash,
		     struct fpmap_rx_dest *dest, struct fpmap_ticket *ticket);
int fpmap_rx_insert(struct fpmap *map, const struct fpmap_ticket *ticket,
		    const struct fpmap_flow *flow, u32 hash,
		    const struct fpmap_rx_dest *dest, const struct fpmap_path *path);
/*
 * Writes back the reordering record a hit handed out (dest->order), changed:
 * on the CPU that looked it up, bottom halves off or within the same softirq.
 * If an insert rewrote the entry meanwhile, the entry's record is left (or
 * made) FPMAP_ORDER_UNKNOWN, never the one passed.
 */
void fpmap_rx_set_order(struct fpmap *map, const struct fpmap_rx_order *order);

bool fpmap_tx_lookup(struct fpmap *map, const struct fpmap_flow *flow, u32 hash,
		     u64 sock_cookie, struct fpmap_tx_template *tmpl,
		     struct fpmap_ticket *ticket);
int fpmap_tx_insert(struct fpmap *map, const struct fpmap_ticket *ticket,
		    const struct fpmap_flow *flow, u32 hash, u64 sock_cookie,
		    const struct fpmap_tx_template *tmpl, const struct fpmap_path *path);

/* Invalidation: one call per kind of event. */
void fpmap_sock_closed(struct fpmap *map, u64 sock_cookie);
void fpmap_sock_rebound(struct fpmap *map, u32 netns, u8 proto, u16 port);
void fpmap_dev_event(struct fpmap *map, const struct fpmap_dev *dev,
		     enum fpmap_event event);
void fpmap_netns_exit(struct fpmap *map, u32 netns);
void fpmap_flush(struct fpmap *map);

/* One table's counters on @cpu; fpmap_cpu_stats(): both tables' added. */
void fpmap_cpu_table_stats(struct fpmap *map, int cpu, enum fpmap_table_kind kind,
			   struct fpmap_stats *stats);
void fpmap_cpu_stats(struct fpmap *map, int cpu, struct fpmap_stats *stats);
/* Adds each counter of @s to @sum's. */
void fpmap_stats_add(struct fpmap_stats *sum, const struct fpmap_stats *s);
u64 fpmap_event_count(struct fpmap *map, enum fpmap_event event);
unsigned int fpmap_buckets_per_cpu(const struct fpmap *map);
bool fpmap_has_cookie(struct fpmap *map, u64 sock_cookie);

#ifdef FPMAP_SELFTEST
/*
 * Moves the epoch as @moves event halves would, changing no generation: lets
 * the self-test reach 2^32 moves (a 32-bit epoch's wrap-around) without 2^31
 * real events. Not built into the kernel's own copy of the map.
 */
void fpmap_selftest_move_epoch(struct fpmap *map, u64 moves);
/*
 * The overflow filter of @hash's home bucket in @cpu's RX table (bit c: an
 * entry of class c lives past it), and that bucket's number in @home.
 */
u8 fpmap_selftest_overflow(struct fpmap *map, int cpu, u32 hash, u32 *home);
#endif

#ifdef __cplusplus
}
#endif

#endif /* FPMAP_H */
