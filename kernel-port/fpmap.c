// SPDX-License-Identifier: GPL-2.0
/*
 * fpmap: the overlay fastpath's flow map. Design and rules in README.md.
 *
 * Locking:
 *  - readers (lookups) take no lock: rcu_read_lock() with bottom halves off,
 *    so the per-CPU tables they read cannot change CPU under them;
 *  - each CPU's tables have one spinlock, taken by inserts on that CPU and by
 *    invalidations from any CPU; nothing takes two of them at once;
 *  - entries are freed after a grace period (call_rcu), never in place.
 *
 * Validation: every event that can change where the slow path sends a flow
 * bumps a generation counter (socket port, namespace, device) and, around it,
 * the map's epoch. An entry records the generations it was made under and
 * the epoch at which it was last found current; a lookup that sees the same
 * epoch trusts it after one read, any other epoch rechecks the generations.
 */
#include <asm/byteorder.h>
#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/bottom_half.h>
#include <linux/errno.h>
#include <linux/hash.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/percpu.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "fpmap.h"

enum fpmap_table {
	FPMAP_RX,
	FPMAP_TX,
	FPMAP_TABLES,
};

/* What a generation counter stands for; part of its slot's hash. */
enum fpmap_gen_kind {
	FPMAP_GEN_SHADOW = 1,	/* (netns, proto, local port) */
	FPMAP_GEN_NETNS,	/* netns */
	FPMAP_GEN_DEV,		/* (netns, ifindex) */
};

struct fpmap_gen_ref {
	u32 slot;
	u32 gen;
};

/* Shadow slot, two namespaces, and the path's devices. */
#define FPMAP_GENS_MAX (3 + FPMAP_PATH_MAX)

#define FPMAP_MIN_BUCKET_BITS 4
#define FPMAP_MAX_ENTRIES_PER_CPU BIT(24)
#define FPMAP_DEFAULT_MIN_GEN_SLOTS 1024u
#define FPMAP_DEFAULT_MAX_GEN_SLOTS 65536u
#define FPMAP_EVICT_SECOND_CHANCES 8

struct fpmap_entry {
	/* What a lookup reads, together at the front. */
	struct hlist_node flow_node;	/* flow bucket; readers walk it under RCU */
	u32 hash;
	u32 checked_epoch;
	struct fpmap_flow flow;
	u64 sock_cookie;
	bool referenced;		/* hit since the eviction hand last passed */
	u8 table;
	u8 nr_gens;
	struct fpmap_gen_ref gens[FPMAP_GENS_MAX];
	union {
		struct fpmap_rx_dest rx;
		struct fpmap_tx_template tx;
	};
	/* Writers only, under the CPU's lock. */
	struct hlist_node sock_node;	/* cookie bucket: close finds its entries here */
	struct list_head age_node;	/* insertion order, for eviction */
	struct rcu_head rcu;
};

struct fpmap_cpu {
	spinlock_t lock;	/* writers: the buckets, age lists, counts, writer stats */
	struct hlist_head *flow_buckets[FPMAP_TABLES];
	struct hlist_head *sock_buckets;	/* both tables' entries, by cookie */
	struct list_head age[FPMAP_TABLES];
	unsigned int count[FPMAP_TABLES];
	struct fpmap_stats stats;
};

struct fpmap {
	struct fpmap_cpu __percpu *cpus;
	unsigned int capacity;		/* entries per table per CPU */
	unsigned int flow_bits;
	unsigned int sock_bits;
	unsigned int gen_mask;
	atomic_t epoch;
	atomic_t *gens;
	atomic64_t events[FPMAP_EV_MAX];
};

/* Per-CPU counters have one writer at a time; others read them with READ_ONCE. */
static inline void fpmap_count(u64 *counter)
{
	WRITE_ONCE(*counter, READ_ONCE(*counter) + 1);
}

static u32 fpmap_mix(u32 h, u32 v)
{
	h ^= v;
	h *= GOLDEN_RATIO_32;
	return h ^ (h >> 16);
}

static u32 fpmap_gen_slot(const struct fpmap *map, enum fpmap_gen_kind kind,
			  u32 a, u32 b, u32 c)
{
	return fpmap_mix(fpmap_mix(fpmap_mix(kind, a), b), c) & map->gen_mask;
}

static u32 fpmap_shadow_slot(const struct fpmap *map, u32 netns, u8 proto, u16 port)
{
	return fpmap_gen_slot(map, FPMAP_GEN_SHADOW, netns, proto, port);
}

static u32 fpmap_netns_slot(const struct fpmap *map, u32 netns)
{
	return fpmap_gen_slot(map, FPMAP_GEN_NETNS, netns, 0, 0);
}

static u32 fpmap_dev_slot(const struct fpmap *map, const struct fpmap_dev *dev)
{
	return fpmap_gen_slot(map, FPMAP_GEN_DEV, dev->netns, (u32)dev->ifindex, 0);
}

/*
 * An event moves the epoch before and after its generation bump: a reader
 * that saw the epoch before the bump rechecks after it, and an insert whose
 * ticket predates the event sees the epoch moved and gives up.
 */
static void fpmap_event_begin(struct fpmap *map)
{
	/*
	 * The caller's change (an unhash, a bind) is visible before the epoch
	 * moves: a slow path whose ticket is the moved epoch must see it.
	 */
	smp_mb__before_atomic();
	atomic_inc(&map->epoch);
	smp_mb__after_atomic(); /* the epoch moves before any generation does */
}

static void fpmap_event_end(struct fpmap *map, enum fpmap_event event)
{
	smp_mb__before_atomic(); /* pairs with atomic_read_acquire in fpmap_entry_current */
	atomic_inc(&map->epoch);
	atomic64_inc(&map->events[event]);
}

static void fpmap_bump(struct fpmap *map, u32 slot, enum fpmap_event event)
{
	fpmap_event_begin(map);
	atomic_inc(&map->gens[slot]);
	fpmap_event_end(map, event);
}

static void fpmap_record_gen(struct fpmap *map, struct fpmap_entry *e, u32 slot)
{
	e->gens[e->nr_gens].slot = slot;
	e->gens[e->nr_gens].gen = (u32)atomic_read(&map->gens[slot]);
	e->nr_gens++;
}

static void fpmap_record_path(struct fpmap *map, struct fpmap_entry *e,
			      const struct fpmap_path *path)
{
	int i;

	for (i = 0; i < FPMAP_PATH_MAX; i++)
		if (path->dev[i].ifindex)
			fpmap_record_gen(map, e, fpmap_dev_slot(map, &path->dev[i]));
}

static bool fpmap_entry_current(struct fpmap *map, struct fpmap_entry *e)
{
	u32 epoch = (u32)atomic_read_acquire(&map->epoch);
	int i;

	if (likely(READ_ONCE(e->checked_epoch) == epoch))
		return true;
	for (i = 0; i < e->nr_gens; i++)
		if ((u32)atomic_read(&map->gens[e->gens[i].slot]) != e->gens[i].gen)
			return false;
	WRITE_ONCE(e->checked_epoch, epoch);
	return true;
}

static struct hlist_head *fpmap_flow_bucket(const struct fpmap *map,
					    struct fpmap_cpu *c,
					    enum fpmap_table table, u32 hash)
{
	return &c->flow_buckets[table][hash_32(hash, map->flow_bits)];
}

static struct hlist_head *fpmap_sock_bucket(const struct fpmap *map,
					    struct fpmap_cpu *c, u64 cookie)
{
	return &c->sock_buckets[hash_64(cookie, map->sock_bits)];
}

static bool fpmap_entry_matches(const struct fpmap_entry *e, u32 hash,
				const struct fpmap_flow *flow, u64 cookie)
{
	return e->hash == hash && !memcmp(&e->flow, flow, sizeof(*flow)) &&
	       (e->table == FPMAP_RX || e->sock_cookie == cookie);
}

/* Caller holds rcu_read_lock with bottom halves off. At most one entry per key. */
static struct fpmap_entry *fpmap_find(struct fpmap *map, struct fpmap_cpu *c,
				      enum fpmap_table table,
				      const struct fpmap_flow *flow, u32 hash,
				      u64 cookie)
{
	struct fpmap_entry *e;

	hlist_for_each_entry_rcu(e, fpmap_flow_bucket(map, c, table, hash), flow_node) {
		if (!fpmap_entry_matches(e, hash, flow, cookie))
			continue;
		if (!fpmap_entry_current(map, e)) {
			fpmap_count(&c->stats.stale);
			return NULL;
		}
		if (!READ_ONCE(e->referenced))
			WRITE_ONCE(e->referenced, true);
		fpmap_count(&c->stats.hits);
		return e;
	}
	fpmap_count(&c->stats.misses);
	return NULL;
}

u32 fpmap_ticket(struct fpmap *map)
{
	return (u32)atomic_read_acquire(&map->epoch);
}

bool fpmap_rx_lookup(struct fpmap *map, const struct fpmap_flow *flow, u32 hash,
		     struct fpmap_rx_dest *dest, u32 *ticket)
{
	struct fpmap_entry *e;
	bool hit = false;

	local_bh_disable();
	rcu_read_lock();
	*ticket = fpmap_ticket(map);
	e = fpmap_find(map, this_cpu_ptr(map->cpus), FPMAP_RX, flow, hash, 0);
	if (e) {
		*dest = e->rx;
		hit = true;
	}
	rcu_read_unlock();
	local_bh_enable();
	return hit;
}

bool fpmap_tx_lookup(struct fpmap *map, const struct fpmap_flow *flow, u32 hash,
		     u64 sock_cookie, struct fpmap_tx_template *tmpl, u32 *ticket)
{
	struct fpmap_entry *e;
	bool hit = false;

	local_bh_disable();
	rcu_read_lock();
	*ticket = fpmap_ticket(map);
	e = fpmap_find(map, this_cpu_ptr(map->cpus), FPMAP_TX, flow, hash, sock_cookie);
	if (e) {
		*tmpl = e->tx;
		hit = true;
	}
	rcu_read_unlock();
	local_bh_enable();
	return hit;
}

static void fpmap_entry_free_rcu(struct rcu_head *head)
{
	kfree(container_of(head, struct fpmap_entry, rcu));
}

/* Caller holds c->lock. */
static void fpmap_unlink(struct fpmap_cpu *c, struct fpmap_entry *e)
{
	hlist_del_init_rcu(&e->flow_node);
	hlist_del_init(&e->sock_node);
	list_del(&e->age_node);
	WRITE_ONCE(c->count[e->table], c->count[e->table] - 1);
	call_rcu(&e->rcu, fpmap_entry_free_rcu);
}

/*
 * Clock eviction in insertion order: an entry hit since the hand last passed
 * gets a second chance, up to a bound, so the insert's cost stays bounded.
 * A stale entry goes first.
 */
static void fpmap_evict_one(struct fpmap *map, struct fpmap_cpu *c,
			    enum fpmap_table table)
{
	struct fpmap_entry *e;
	int chances;

	for (chances = 0; chances < FPMAP_EVICT_SECOND_CHANCES; chances++) {
		e = list_first_entry(&c->age[table], struct fpmap_entry, age_node);
		if (!READ_ONCE(e->referenced) || !fpmap_entry_current(map, e))
			break;
		WRITE_ONCE(e->referenced, false);
		list_move_tail(&e->age_node, &c->age[table]);
	}
	e = list_first_entry(&c->age[table], struct fpmap_entry, age_node);
	fpmap_unlink(c, e);
	fpmap_count(&c->stats.evictions);
}

/* Caller holds c->lock. Replaces an entry with the same key. */
static void fpmap_link(struct fpmap *map, struct fpmap_cpu *c,
		       struct fpmap_entry *e)
{
	enum fpmap_table table = e->table;
	struct hlist_head *bucket = fpmap_flow_bucket(map, c, table, e->hash);
	struct fpmap_entry *old;
	struct hlist_node *next;

	hlist_for_each_entry_safe(old, next, bucket, flow_node) {
		if (fpmap_entry_matches(old, e->hash, &e->flow, e->sock_cookie)) {
			fpmap_unlink(c, old);
			break;
		}
	}
	if (c->count[table] >= map->capacity)
		fpmap_evict_one(map, c, table);

	hlist_add_head_rcu(&e->flow_node, bucket);
	hlist_add_head(&e->sock_node, fpmap_sock_bucket(map, c, e->sock_cookie));
	list_add_tail(&e->age_node, &c->age[table]);
	WRITE_ONCE(c->count[table], c->count[table] + 1);
	fpmap_count(&c->stats.inserts);
}

static struct fpmap_entry *fpmap_entry_new(enum fpmap_table table, u32 ticket,
					   const struct fpmap_flow *flow,
					   u32 hash, u64 cookie)
{
	struct fpmap_entry *e = kzalloc(sizeof(*e), GFP_ATOMIC | __GFP_NOWARN);

	if (!e)
		return NULL;
	e->table = table;
	e->hash = hash;
	e->flow = *flow;
	e->sock_cookie = cookie;
	e->checked_epoch = ticket;
	INIT_HLIST_NODE(&e->flow_node);
	INIT_HLIST_NODE(&e->sock_node);
	return e;
}

/*
 * Publish e on this CPU unless an event happened since the ticket was taken:
 * the slow path's answer may predate it. The generations were read before
 * the epoch is checked, so a concurrent event leaves them old, or the epoch moved.
 */
static int fpmap_publish(struct fpmap *map, struct fpmap_entry *e, u32 ticket)
{
	struct fpmap_cpu *c;
	int err = 0;

	local_bh_disable();
	c = this_cpu_ptr(map->cpus);
	spin_lock(&c->lock);
	smp_rmb(); /* the generations recorded in e were read before this epoch */
	if ((u32)atomic_read(&map->epoch) != ticket) {
		fpmap_count(&c->stats.insert_races);
		err = -EAGAIN;
	} else {
		fpmap_link(map, c, e);
	}
	spin_unlock(&c->lock);
	local_bh_enable();
	if (err)
		kfree(e);
	return err;
}

static int fpmap_alloc_failed(struct fpmap *map)
{
	local_bh_disable();
	fpmap_count(&this_cpu_ptr(map->cpus)->stats.alloc_failures);
	local_bh_enable();
	return -ENOMEM;
}

int fpmap_rx_insert(struct fpmap *map, u32 ticket, const struct fpmap_flow *flow,
		    u32 hash, const struct fpmap_rx_dest *dest,
		    const struct fpmap_path *path)
{
	struct fpmap_entry *e;

	e = fpmap_entry_new(FPMAP_RX, ticket, flow, hash, dest->sock_cookie);
	if (!e)
		return fpmap_alloc_failed(map);
	e->rx = *dest;
	fpmap_record_gen(map, e, fpmap_shadow_slot(map, dest->sock_netns, flow->proto,
						   be16_to_cpu(flow->dport)));
	fpmap_record_gen(map, e, fpmap_netns_slot(map, flow->netns));
	fpmap_record_gen(map, e, fpmap_netns_slot(map, dest->sock_netns));
	fpmap_record_path(map, e, path);
	return fpmap_publish(map, e, ticket);
}

int fpmap_tx_insert(struct fpmap *map, u32 ticket, const struct fpmap_flow *flow,
		    u32 hash, u64 sock_cookie, const struct fpmap_tx_template *tmpl,
		    const struct fpmap_path *path)
{
	struct fpmap_entry *e;

	e = fpmap_entry_new(FPMAP_TX, ticket, flow, hash, sock_cookie);
	if (!e)
		return fpmap_alloc_failed(map);
	e->tx = *tmpl;
	fpmap_record_gen(map, e, fpmap_netns_slot(map, flow->netns));
	fpmap_record_gen(map, e, fpmap_netns_slot(map, tmpl->egress.netns));
	fpmap_record_path(map, e, path);
	return fpmap_publish(map, e, ticket);
}

/* O(CPUs + the socket's entries): each CPU indexes its entries by cookie. */
void fpmap_sock_closed(struct fpmap *map, u64 sock_cookie)
{
	struct fpmap_entry *e;
	struct hlist_node *next;
	int cpu;

	fpmap_event_begin(map);
	for_each_possible_cpu(cpu) {
		struct fpmap_cpu *c = per_cpu_ptr(map->cpus, cpu);

		spin_lock_bh(&c->lock);
		hlist_for_each_entry_safe(e, next, fpmap_sock_bucket(map, c, sock_cookie),
					  sock_node) {
			if (e->sock_cookie != sock_cookie)
				continue;
			fpmap_unlink(c, e);
			fpmap_count(&c->stats.invalidated);
		}
		spin_unlock_bh(&c->lock);
	}
	fpmap_event_end(map, FPMAP_EV_SOCK_CLOSE);
}

void fpmap_sock_rebound(struct fpmap *map, u32 netns, u8 proto, u16 port)
{
	fpmap_bump(map, fpmap_shadow_slot(map, netns, proto, port),
		   FPMAP_EV_SOCK_REBIND);
}

void fpmap_dev_event(struct fpmap *map, const struct fpmap_dev *dev,
		     enum fpmap_event event)
{
	fpmap_bump(map, fpmap_dev_slot(map, dev), event);
}

void fpmap_netns_exit(struct fpmap *map, u32 netns)
{
	fpmap_bump(map, fpmap_netns_slot(map, netns), FPMAP_EV_NETNS_EXIT);
}

/* Caller holds c->lock, or is the only user (destroy). */
static unsigned int fpmap_unlink_all(struct fpmap_cpu *c)
{
	struct fpmap_entry *e, *next;
	unsigned int removed = 0;
	int table;

	for (table = 0; table < FPMAP_TABLES; table++) {
		list_for_each_entry_safe(e, next, &c->age[table], age_node) {
			fpmap_unlink(c, e);
			removed++;
		}
	}
	return removed;
}

void fpmap_flush(struct fpmap *map)
{
	unsigned int removed;
	int cpu;

	fpmap_event_begin(map);
	for_each_possible_cpu(cpu) {
		struct fpmap_cpu *c = per_cpu_ptr(map->cpus, cpu);

		spin_lock_bh(&c->lock);
		removed = fpmap_unlink_all(c);
		WRITE_ONCE(c->stats.invalidated, c->stats.invalidated + removed);
		spin_unlock_bh(&c->lock);
	}
	fpmap_event_end(map, FPMAP_EV_FLUSH);
}

bool fpmap_has_cookie(struct fpmap *map, u64 sock_cookie)
{
	struct fpmap_entry *e;
	bool found = false;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct fpmap_cpu *c = per_cpu_ptr(map->cpus, cpu);
		struct hlist_node *next;

		spin_lock_bh(&c->lock);
		hlist_for_each_entry_safe(e, next, fpmap_sock_bucket(map, c, sock_cookie),
					  sock_node)
			found |= e->sock_cookie == sock_cookie;
		spin_unlock_bh(&c->lock);
	}
	return found;
}

void fpmap_cpu_stats(struct fpmap *map, int cpu, struct fpmap_stats *stats)
{
	struct fpmap_cpu *c = per_cpu_ptr(map->cpus, cpu);

	stats->hits = READ_ONCE(c->stats.hits);
	stats->misses = READ_ONCE(c->stats.misses);
	stats->stale = READ_ONCE(c->stats.stale);
	stats->inserts = READ_ONCE(c->stats.inserts);
	stats->insert_races = READ_ONCE(c->stats.insert_races);
	stats->alloc_failures = READ_ONCE(c->stats.alloc_failures);
	stats->evictions = READ_ONCE(c->stats.evictions);
	stats->invalidated = READ_ONCE(c->stats.invalidated);
	stats->entries = READ_ONCE(c->count[FPMAP_RX]) + READ_ONCE(c->count[FPMAP_TX]);
}

u64 fpmap_event_count(struct fpmap *map, enum fpmap_event event)
{
	return (u64)atomic64_read(&map->events[event]);
}

unsigned int fpmap_buckets_per_cpu(const struct fpmap *map)
{
	return 1u << map->flow_bits;
}

static void fpmap_free_cpu(struct fpmap_cpu *c)
{
	int table;

	for (table = 0; table < FPMAP_TABLES; table++)
		kvfree(c->flow_buckets[table]);
	kvfree(c->sock_buckets);
}

static int fpmap_init_cpu(struct fpmap *map, struct fpmap_cpu *c)
{
	int table;

	spin_lock_init(&c->lock);
	for (table = 0; table < FPMAP_TABLES; table++) {
		INIT_LIST_HEAD(&c->age[table]);
		c->flow_buckets[table] = kvcalloc(1u << map->flow_bits,
						  sizeof(struct hlist_head), GFP_KERNEL);
		if (!c->flow_buckets[table])
			return -ENOMEM;
	}
	c->sock_buckets = kvcalloc(1u << map->sock_bits, sizeof(struct hlist_head),
				   GFP_KERNEL);
	return c->sock_buckets ? 0 : -ENOMEM;
}

static unsigned int fpmap_default_gen_slots(unsigned int entries)
{
	unsigned int slots = max(entries, FPMAP_DEFAULT_MIN_GEN_SLOTS);

	return min(slots, FPMAP_DEFAULT_MAX_GEN_SLOTS);
}

/* May sleep. Returns NULL on a bad configuration or when memory runs out. */
struct fpmap *fpmap_create(const struct fpmap_config *config)
{
	unsigned int entries = config->entries_per_cpu;
	unsigned int slots = config->generation_slots;
	struct fpmap *map;
	int cpu;

	if (!entries || entries > FPMAP_MAX_ENTRIES_PER_CPU)
		return NULL;
	if (!slots)
		slots = fpmap_default_gen_slots(entries);
	if (slots > FPMAP_MAX_ENTRIES_PER_CPU)
		return NULL;

	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map)
		return NULL;
	map->capacity = entries;
	/* Load factor at most one: a bucket per entry, rounded up. */
	map->flow_bits = max_t(unsigned int, ilog2(roundup_pow_of_two(entries)),
			       FPMAP_MIN_BUCKET_BITS);
	/* A socket usually has several flows: a quarter as many cookie buckets. */
	map->sock_bits = max_t(unsigned int, map->flow_bits - 2, FPMAP_MIN_BUCKET_BITS);
	map->gen_mask = roundup_pow_of_two(slots) - 1;
	map->gens = kvcalloc(map->gen_mask + 1, sizeof(atomic_t), GFP_KERNEL);
	map->cpus = alloc_percpu(struct fpmap_cpu);
	if (!map->gens || !map->cpus)
		goto fail;
	for_each_possible_cpu(cpu)
		if (fpmap_init_cpu(map, per_cpu_ptr(map->cpus, cpu)))
			goto fail;
	return map;

fail:
	fpmap_destroy(map);
	return NULL;
}

/* May sleep. No lookups or inserts may run or start. */
void fpmap_destroy(struct fpmap *map)
{
	int cpu;

	if (!map)
		return;
	if (map->cpus) {
		for_each_possible_cpu(cpu) {
			struct fpmap_cpu *c = per_cpu_ptr(map->cpus, cpu);

			if (c->flow_buckets[FPMAP_RX] && c->flow_buckets[FPMAP_TX] &&
			    c->sock_buckets)
				fpmap_unlink_all(c);
			fpmap_free_cpu(c);
		}
		free_percpu(map->cpus);
	}
	/* The entries' RCU callbacks must have run before their memory goes. */
	rcu_barrier();
	kvfree(map->gens);
	kfree(map);
}
