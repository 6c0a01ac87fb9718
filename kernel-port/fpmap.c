// SPDX-License-Identifier: GPL-2.0
/*
 * fpmap: the overlay fastpath's flow map. Design, rules and measured costs in
 * README.md.
 *
 * Layout, per CPU and per table (RX, TX):
 *  - buckets of 16 bytes, four to a cache line: 15 one-byte tags (8 bits of
 *    the hash, never 0; 0 is an empty slot) and a count of entries that probed
 *    past the bucket (open addressing, linear probing; a lookup stops at the
 *    first bucket without such entries);
 *  - the entry of slot s of bucket b is entry s * (number of buckets) + b: no
 *    index is stored. The part a lookup reads (key, hash, checked epoch,
 *    value, a sequence count) is one cache line for RX, two for TX. RX
 *    entries are one array, allocated at create, so that a hit's address
 *    follows from its slot with no load between the bucket and the entry; TX
 *    entries and every entry's cold part (generations, cookie chain,
 *    reordering marks) come in chunks of 64, allocated when an insert first
 *    lands in one (numbered slot by slot, the high slots' chunks wait for the
 *    table to fill). 5 slots for every 4 entries of capacity;
 *  - a cookie index per CPU (u32 heads, RX and TX side by side, chains
 *    through the cold parts) for close.
 *
 * Locking:
 *  - readers (lookups) take no lock, with bottom halves off, so the per-CPU
 *    tables they read cannot change CPU under them; nothing a reader can reach
 *    is freed before fpmap_destroy();
 *  - each CPU's tables have one spinlock, taken by inserts on that CPU and by
 *    invalidations from any CPU; nothing takes two of them at once;
 *  - a writer fills an entry, then its slot's tag (release); a reader reads
 *    the entry only after the tag (smp_rmb) and compares the whole key;
 *  - an emptied slot's entry is rewritten by the next insert on its CPU that
 *    takes the slot: the writer makes the entry's sequence count odd while it
 *    rewrites the entry, and a reader that saw the count change (or odd)
 *    counts a miss.
 *
 * Validation: every event that can change where the slow path sends a flow
 * bumps a generation counter (socket port, namespace, device) and, around it,
 * the map's epoch. An entry records the sum of the generations it was made
 * under and the epoch at which it was last found current; a lookup that sees
 * the same epoch trusts it after one compare, any other epoch sums the
 * generations again (counters only grow: the sum moves if any of them did).
 */
#include <asm/byteorder.h>
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/bits.h>
#include <linux/bottom_half.h>
#include <linux/bug.h>
#include <linux/build_bug.h>
#include <linux/cache.h>
#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/hash.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/log2.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>
#include <linux/string.h>

#include "fpmap.h"

/* What a generation counter stands for; part of its slot's hash. */
enum fpmap_gen_kind {
	FPMAP_GEN_SHADOW = 1,	/* (netns, proto, local port) */
	FPMAP_GEN_NETNS,	/* netns */
	FPMAP_GEN_DEV,		/* (netns, ifindex) */
};

#define FPMAP_SLOTS 15			/* per bucket */
#define FPMAP_OVERFLOW 7		/* tag byte: which classes of entries probed past */
#define FPMAP_CLASSES 8			/* bits of that byte */
#define FPMAP_PASSED_STUCK U8_MAX	/* a saturated count: never decremented again */
#define FPMAP_SLOTS_PER_4_ENTRIES 5	/* load factor at capacity: at most 4/5 */
#define FPMAP_NONE U32_MAX		/* no entry: the end of a list */
#define FPMAP_CHUNK_BITS 6
#define FPMAP_CHUNK_ENTRIES BIT(FPMAP_CHUNK_BITS)
#define FPMAP_CHUNK_MASK (FPMAP_CHUNK_ENTRIES - 1)
#define FPMAP_MIN_SOCK_BITS 4
#define FPMAP_MAX_ENTRIES_PER_CPU BIT(24)
#define FPMAP_DEFAULT_MIN_GEN_SLOTS 1024u
#define FPMAP_MAX_GEN_SLOTS 65536u	/* entries keep device slots as u16 */
#define FPMAP_EVICT_SECOND_CHANCES 8

/*
 * A quarter of a cache line: 15 tags (0: empty) and, in byte 7, the overflow
 * filter: bit c set while an entry of class c (fpmap_class()) lives past this
 * bucket, having probed past it. Slot s's tag: fpmap_tag_byte(); its entry:
 * fpmap_entry_at().
 */
struct fpmap_bucket {
	union {
		u8 tag[16];
		u64 tag_word[2];
	};
};

/* The start of both entry types: what writers need of any entry. */
struct fpmap_entry_head {
	struct fpmap_flow flow;
	u32 hash;		/* the caller's: a lookup under another hash is a miss */
	/*
	 * The socket's namespace. RX: also the receiving device's (a socket
	 * receives only from devices of its own namespace), kept once so that
	 * the entry fits one line with a 64-bit epoch. TX: the key's.
	 */
	u32 sock_netns;
	u64 checked_epoch;	/* epoch at which the generations were last current */
	u64 sock_cookie;
};

/* An RX entry: everything a hit reads in one line (64 bytes on 64-bit). */
struct fpmap_rx_entry {
	struct fpmap_entry_head head;
	void *sk;
	int ifindex;		/* the receiving device's, in head.sock_netns */
	u16 seq;		/* odd while a writer rewrites the entry */
	u8 referenced;		/* hit since the eviction hand last passed */
	/*
	 * The reordering record's state (enum fpmap_order_state); its marks
	 * are in the cold part, read only from FPMAP_ORDER_QUEUED on.
	 * Written by inserts (UNKNOWN) and by the lookup's CPU.
	 */
	u8 order;
} ____cacheline_aligned;

/* A TX entry: key and validation in the first line, the template after. */
struct fpmap_tx_entry {
	struct fpmap_entry_head head;
	u16 seq;
	u8 referenced;
	struct fpmap_tx_template tmpl;
} ____cacheline_aligned;

/*
 * Writers' part of an entry, and a reader's when the epoch moved or the
 * reordering record says frames are queued. 32 bytes: unused device slots
 * are 0, the generation slot nothing maps to, so no device count is kept.
 */
struct fpmap_cold {
	u64 gen_sum;		/* sum of the generations recorded at insert */
	u32 sock_prev;
	u32 sock_next;		/* cookie chain */
	u16 dev_slot[FPMAP_PATH_MAX];
	/* RX: the reordering record's marks; written by the lookup's CPU only */
	u32 order_mark[FPMAP_ORDER_MARKS];
};

struct fpmap_cpu;

struct fpmap_table {
	/* Read by lookups. */
	struct fpmap_bucket *buckets;
	u32 nr_buckets;
	union {
		struct fpmap_rx_entry *rx;	/* RX: every entry, from create on */
		struct fpmap_tx_entry **tx;	/* TX: chunk directory */
	} hot;
	/* Chunk directory; read by lookups only after an event or with frames queued. */
	struct fpmap_cold **cold;
	/*
	 * This table's counters: hits, misses and stale counted by lookups
	 * on the table's CPU, the rest by writers under its lock; entries is
	 * not kept here (count is) but filled in when they are read.
	 */
	struct fpmap_stats stats;
	/* Writers only, under the CPU's lock. */
	u32 *sock_heads;		/* cookie index: the CPU's, from this table's column */
	/*
	 * Per bucket, per class: how many entries live past it; a bucket's
	 * filter bit is set while its count is not 0.
	 */
	u8 (*passed)[FPMAP_CLASSES];
	enum fpmap_table_kind kind;
	u32 count;			/* live entries */
	u32 hand;			/* eviction clock, an entry number */
};

struct fpmap_cpu {
	struct fpmap_table rx;
	struct fpmap_table tx;
	spinlock_t lock;	/* writers: tables (but for the readers' bits, stats included) */
	/*
	 * Cookie chain heads, RX and TX side by side: a close reads one line
	 * per CPU for both tables.
	 */
	u32 *sock_heads;
	/* Events that started on this CPU: one writer at a time (BH off). */
	u64 events[FPMAP_EV_MAX];
};

struct fpmap {
	/* Read-mostly: every lookup and insert reads some of these. */
	struct fpmap_cpu __percpu *cpus;
	unsigned int capacity;		/* entries per table per CPU */
	unsigned int nr_buckets;
	unsigned int sock_bits;
	unsigned int gen_mask;
	unsigned int nr_cpus;		/* nr_cpu_ids at create */
	atomic64_t *gens;
	/*
	 * Per cookie chain, one bit per CPU whose tables may hold entries of
	 * its cookies (chain c's CPUs are bits c * nr_cpus on): set by
	 * inserts, cleared by a close that left the chain empty on that CPU.
	 * A close locks only those CPUs. Packed, not a long per chain: on a
	 * machine with few CPUs that would be most of a byte a flow.
	 */
	unsigned long *chain_cpus;
	/*
	 * Every event writes it: on a line of its own, so that the fields
	 * above stay in the readers' caches (issue 13, defect 5).
	 */
	atomic64_t epoch ____cacheline_aligned;
};

/* The generations an entry depends on, as recorded before it is published. */
struct fpmap_gens {
	u64 sum;
	u16 dev_slot[FPMAP_PATH_MAX];
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

/*
 * Never slot 0: an entry's unused device slots name it, and its generation
 * stays 0. Slot 1 takes slot 0's share: extra invalidation, never a missed one.
 */
static u32 fpmap_gen_slot(const struct fpmap *map, enum fpmap_gen_kind kind,
			  u32 a, u32 b, u32 c)
{
	u32 slot = fpmap_mix(fpmap_mix(fpmap_mix(kind, a), b), c) & map->gen_mask;

	return slot ? slot : 1;
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
 * Generations, their sums and the epoch are 64-bit: none of them comes back
 * to a value it had, so no number of events can make an old entry or ticket
 * look current.
 */
static u64 fpmap_gen(const struct fpmap *map, u32 slot)
{
	return (u64)atomic64_read(&map->gens[slot]);
}

/* The epoch now; acquire: pairs with the barrier before its moves. */
static u64 fpmap_epoch(const struct fpmap *map)
{
	return (u64)atomic64_read_acquire(&map->epoch);
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
	atomic64_inc(&map->epoch);
	smp_mb__after_atomic(); /* the epoch moves before any generation does */
}

static void fpmap_event_end(struct fpmap *map, enum fpmap_event event)
{
	smp_mb__before_atomic(); /* pairs with the acquire in fpmap_epoch */
	atomic64_inc(&map->epoch);
	/* Counted per CPU: a shared counter would be a second line every event writes. */
	local_bh_disable();
	fpmap_count(&this_cpu_ptr(map->cpus)->events[event]);
	local_bh_enable();
}

static void fpmap_bump(struct fpmap *map, u32 slot, enum fpmap_event event)
{
	fpmap_event_begin(map);
	atomic64_inc(&map->gens[slot]);
	fpmap_event_end(map, event);
}

static void fpmap_record_path(const struct fpmap *map, struct fpmap_gens *g,
			      const struct fpmap_path *path)
{
	int i;

	for (i = 0; i < FPMAP_PATH_MAX; i++)
		g->dev_slot[i] = path->dev[i].ifindex ? fpmap_dev_slot(map, &path->dev[i]) : 0;
}

static u64 fpmap_path_gen_sum(const struct fpmap *map, const u16 *dev_slot)
{
	u64 sum = 0;
	int i;

	for (i = 0; i < FPMAP_PATH_MAX; i++)
		sum += fpmap_gen(map, dev_slot[i]);
	return sum;
}

/* What an RX entry depends on: its port's sockets, both namespaces, its path. */
static u64 fpmap_rx_gen_sum(const struct fpmap *map, const struct fpmap_rx_entry *e,
			    const u16 *dev_slot)
{
	const struct fpmap_flow *flow = &e->head.flow;

	return fpmap_gen(map, fpmap_shadow_slot(map, e->head.sock_netns, flow->proto,
						be16_to_cpu(flow->dport))) +
	       fpmap_gen(map, fpmap_netns_slot(map, flow->netns)) +
	       fpmap_gen(map, fpmap_netns_slot(map, e->head.sock_netns)) +
	       fpmap_path_gen_sum(map, dev_slot);
}

/* What a TX entry depends on: both namespaces and its path. */
static u64 fpmap_tx_gen_sum(const struct fpmap *map, const struct fpmap_tx_entry *e,
			    const u16 *dev_slot)
{
	return fpmap_gen(map, fpmap_netns_slot(map, e->head.flow.netns)) +
	       fpmap_gen(map, fpmap_netns_slot(map, e->tmpl.egress.netns)) +
	       fpmap_path_gen_sum(map, dev_slot);
}

static struct fpmap_rx_entry *fpmap_rx_at(const struct fpmap_table *t, u32 i)
{
	return &t->hot.rx[i];
}

static struct fpmap_tx_entry *fpmap_tx_at(const struct fpmap_table *t, u32 i)
{
	struct fpmap_tx_entry *chunk = READ_ONCE(t->hot.tx[i >> FPMAP_CHUNK_BITS]);

	return &chunk[i & FPMAP_CHUNK_MASK];
}

/* Lookups pass the kind as a constant, so that these fold into one address computation. */
static __always_inline struct fpmap_entry_head *
fpmap_head_of(const struct fpmap_table *t, enum fpmap_table_kind kind, u32 i)
{
	return kind == FPMAP_RX ? &fpmap_rx_at(t, i)->head : &fpmap_tx_at(t, i)->head;
}

/* An entry's fields past the head, from the head a lookup already holds. */
static __always_inline u8 *
fpmap_referenced_in(struct fpmap_entry_head *e, enum fpmap_table_kind kind)
{
	return kind == FPMAP_RX ? &container_of(e, struct fpmap_rx_entry, head)->referenced :
				  &container_of(e, struct fpmap_tx_entry, head)->referenced;
}

static __always_inline u16 *
fpmap_seq_in(struct fpmap_entry_head *e, enum fpmap_table_kind kind)
{
	return kind == FPMAP_RX ? &container_of(e, struct fpmap_rx_entry, head)->seq :
				  &container_of(e, struct fpmap_tx_entry, head)->seq;
}

static struct fpmap_entry_head *fpmap_head_at(const struct fpmap_table *t, u32 i)
{
	return fpmap_head_of(t, t->kind, i);
}

static struct fpmap_cold *fpmap_cold_at(const struct fpmap_table *t, u32 i)
{
	struct fpmap_cold *chunk = READ_ONCE(t->cold[i >> FPMAP_CHUNK_BITS]);

	return &chunk[i & FPMAP_CHUNK_MASK];
}

static u64 fpmap_entry_gen_sum(const struct fpmap *map, const struct fpmap_table *t, u32 i)
{
	const struct fpmap_cold *cold = fpmap_cold_at(t, i);

	if (t->kind == FPMAP_RX)
		return fpmap_rx_gen_sum(map, fpmap_rx_at(t, i), cold->dev_slot);
	return fpmap_tx_gen_sum(map, fpmap_tx_at(t, i), cold->dev_slot);
}

/*
 * Current if nothing happened since the entry was last found current, or if
 * its generations still add up to what they did at insert.
 */
static __always_inline bool
fpmap_entry_current(const struct fpmap *map, const struct fpmap_table *t,
		    struct fpmap_entry_head *e, u32 i, u64 epoch)
{
	if (likely(READ_ONCE(e->checked_epoch) == epoch))
		return true;
	if (fpmap_entry_gen_sum(map, t, i) != fpmap_cold_at(t, i)->gen_sum)
		return false;
	WRITE_ONCE(e->checked_epoch, epoch);
	return true;
}

/* The home bucket: the hash's high bits scaled to the bucket count. */
static u32 fpmap_home(const struct fpmap_table *t, u32 hash)
{
	return (u32)(((u64)(hash * GOLDEN_RATIO_32) * t->nr_buckets) >> 32);
}

static u32 fpmap_next_bucket(const struct fpmap_table *t, u32 b)
{
	return b + 1 == t->nr_buckets ? 0 : b + 1;
}

/*
 * Entries are numbered slot by slot across the buckets: slot s of every
 * bucket before slot s + 1 of any. An insert takes its bucket's first free
 * slot (fpmap_match_slot's order: 0, 1, 2, ...), so the chunks of the high
 * slots, which only the fullest buckets use, are not allocated unless the
 * table nears its capacity: at a third of it (3.7 entries a bucket) 61% of
 * the chunks, where numbering by bucket put an entry in every one; and
 * compat, which maps the RX array zero, gives a process only the pages
 * of the low slots. (Laid out bucket by bucket, the RX array made a hit's
 * address an add instead of a multiplication, 4 % of a hit, but a table's
 * first entries then touched all of its pages: the replay's peak RSS grew
 * by 1 MiB.)
 */
static u32 fpmap_entry_at(const struct fpmap_table *t, u32 b, u32 s)
{
	return s * t->nr_buckets + b;
}

static u32 fpmap_bucket_of(const struct fpmap_table *t, u32 i)
{
	return i % t->nr_buckets;
}

static u32 fpmap_slot_of(const struct fpmap_table *t, u32 i)
{
	return i / t->nr_buckets;
}

/* Entry numbers of a table: one per slot of its buckets. */
static u32 fpmap_nr_entries(const struct fpmap_table *t)
{
	return t->nr_buckets * FPMAP_SLOTS;
}

/*
 * The tag: the hash's top byte (RSS spreads flows over CPUs by the low bits,
 * so on one CPU those repeat), never 0, which marks an empty slot.
 */
static u8 fpmap_tag(u32 hash)
{
	u8 tag = hash >> 24;

	return tag ? tag : 1;
}

/*
 * 0x80 in each byte of x that is zero, 0 in every other. Exact (no borrows):
 * the shorter (x - 0x01...) & ~x form also flags a 0x01 byte above a zero
 * one, and there an empty slot (an unallocated TX chunk, or a removed entry
 * left as it was) would be a candidate.
 */
static __always_inline u64 fpmap_zero_bytes(u64 x)
{
	const u64 low7 = 0x7f7f7f7f7f7f7f7fULL;

	return ~(((x & low7) + low7) | x | low7);
}

/*
 * Where slot s's tag is: even slots in the high word (bytes 8..15), odd
 * slots in the low word (bytes 0..6), so that fpmap_tag_matches() can lay
 * both words in one with a shift and a candidate's bit position, divided by
 * four, is its slot.
 */
static u32 fpmap_tag_byte(u32 s)
{
	return s & 1 ? s >> 1 : 8 + (s >> 1);
}

/*
 * The slots of a bucket whose tag is tag, as one word a lookup walks with
 * one branch per candidate: slot s is bit 4s + 3, the low word's byte k
 * (slot 2k + 1) at bit 8k + 7 where it is, the high word's byte k (slot 2k)
 * moved down to 8k + 3.
 */
static __always_inline u64 fpmap_tag_matches(const struct fpmap_bucket *b, u8 tag)
{
	u64 spread = 0x0101010101010101ULL * tag;
	u64 lo = le64_to_cpu(READ_ONCE(b->tag_word[0])) ^ spread;
	u64 hi = le64_to_cpu(READ_ONCE(b->tag_word[1])) ^ spread;

	/* Byte 7 is the overflow filter: masked. */
	return (fpmap_zero_bytes(lo) & ~(0xffULL << 56)) | fpmap_zero_bytes(hi) >> 4;
}

/* The slot of the lowest candidate of a fpmap_tag_matches() word. */
static __always_inline u32 fpmap_match_slot(u64 matches)
{
	return __ffs64(matches) >> 2;
}

/*
 * The class of a hash in the overflow filter: three bits below the tag's. A
 * lookup goes on past a bucket only if an entry of its own class overflowed
 * it; with any overflow it went on for a quarter of the misses at 4/5 load,
 * with the class for an eighth (kernel-port/README.md).
 */
static __always_inline u32 fpmap_class(u32 hash)
{
	return (hash >> 21) & (FPMAP_CLASSES - 1);
}

static __always_inline u32 fpmap_class_bit(u32 hash)
{
	return 1u << fpmap_class(hash);
}

/* Whether an entry of hash's class lives past bucket b. */
static __always_inline bool fpmap_overflowed(const struct fpmap_bucket *b, u32 hash)
{
	return READ_ONCE(b->tag[FPMAP_OVERFLOW]) & fpmap_class_bit(hash);
}

/* Whether entry e is this key's under this hash (RX; TX compares the cookie too). */
static __always_inline bool fpmap_key_is(const struct fpmap_entry_head *e,
					 const struct fpmap_flow *flow, u32 hash)
{
	return e->hash == hash && !memcmp(&e->flow, flow, sizeof(*flow));
}

/*
 * The entry of this key and hash (RX: cookie 0 matches any, TX: the cookie
 * must match too), or NULL, looked for from bucket b on, whose candidates
 * left to try are m (all of them: fpmap_tag_matches()), in at most
 * probes_left buckets; *index is its number and *seq its sequence count as it
 * was before the key was compared. Readers: bottom halves off; writers: the
 * CPU's lock.
 */
static __always_inline struct fpmap_entry_head *
fpmap_find_from(const struct fpmap_table *t, enum fpmap_table_kind kind,
		const struct fpmap_flow *flow, u32 hash, u64 cookie, u32 b, u64 m,
		u32 probes_left, u32 *index, u16 *seq)
{
	u8 tag = fpmap_tag(hash);

	for (;;) {
		const struct fpmap_bucket *bucket = &t->buckets[b];

		for (; m; m &= m - 1) {
			u32 i = fpmap_entry_at(t, b, fpmap_match_slot(m));
			struct fpmap_entry_head *e;

			/* Pairs with the release in fpmap_fill_slot: the entry is whole. */
			smp_rmb();
			e = fpmap_head_of(t, kind, i);
			/* Pairs with the release in fpmap_rewrite: the key read is not older. */
			*seq = smp_load_acquire(fpmap_seq_in(e, kind));
			if (fpmap_key_is(e, flow, hash) &&
			    (kind == FPMAP_RX || e->sock_cookie == cookie)) {
				*index = i;
				return e;
			}
		}
		if (!fpmap_overflowed(bucket, hash) || !--probes_left)
			return NULL;
		b = fpmap_next_bucket(t, b);
		m = fpmap_tag_matches(&t->buckets[b], tag);
	}
}

/* The same, from the hash's home bucket on. */
static __always_inline struct fpmap_entry_head *
fpmap_find(const struct fpmap_table *t, enum fpmap_table_kind kind,
	   const struct fpmap_flow *flow, u32 hash, u64 cookie, u32 *index, u16 *seq)
{
	u32 b = fpmap_home(t, hash);

	return fpmap_find_from(t, kind, flow, hash, cookie, b,
			       fpmap_tag_matches(&t->buckets[b], fpmap_tag(hash)),
			       t->nr_buckets, index, seq);
}

/* A hit: counted, and its entry marked for the eviction hand. */
static __always_inline void fpmap_count_hit(struct fpmap_table *t, u8 *referenced)
{
	if (!READ_ONCE(*referenced))
		WRITE_ONCE(*referenced, 1);
	fpmap_count(&t->stats.hits);
}

/*
 * Counts a lookup's outcome and says whether it is a hit: the key matched an
 * entry (e, number i) that is current, and the entry's sequence count did not
 * move since before its key was compared, so what was compared, checked and
 * copied is one entry as one insert wrote it. An entry reused meanwhile is a
 * miss.
 */
static __always_inline bool
fpmap_outcome(struct fpmap *map, struct fpmap_table *t, enum fpmap_table_kind kind,
	      struct fpmap_entry_head *e, u32 i, u16 seq, u64 epoch)
{
	bool checked;

	if (!e || (seq & 1))
		goto miss;
	checked = fpmap_entry_current(map, t, e, i, epoch);
	smp_rmb(); /* the entry was read before its count is read again */
	if (READ_ONCE(*fpmap_seq_in(e, kind)) != seq)
		goto miss;
	if (unlikely(!checked)) {
		fpmap_count(&t->stats.stale);
		return false;
	}
	fpmap_count_hit(t, fpmap_referenced_in(e, kind));
	return true;
miss:
	fpmap_count(&t->stats.misses);
	return false;
}

/* A ticket for CPU cpu, the caller's. */
static __always_inline struct fpmap_ticket fpmap_ticket_for(struct fpmap *map, int cpu)
{
	struct fpmap_ticket ticket = {
		.epoch = fpmap_epoch(map),
		.cpu = cpu,
	};

	return ticket;
}

struct fpmap_ticket fpmap_take_ticket(struct fpmap *map)
{
	/* Raw: a caller that may migrate gets the CPU it was on. */
	return fpmap_ticket_for(map, raw_smp_processor_id());
}

#ifdef FPMAP_SELFTEST
void fpmap_selftest_move_epoch(struct fpmap *map, u64 moves)
{
	atomic64_add(moves, &map->epoch);
}

u8 fpmap_selftest_overflow(struct fpmap *map, int cpu, u32 hash, u32 *home)
{
	const struct fpmap_table *t = &per_cpu_ptr(map->cpus, cpu)->rx;

	*home = fpmap_home(t, hash);
	return READ_ONCE(t->buckets[*home].tag[FPMAP_OVERFLOW]);
}
#endif

/*
 * What a hit hands out, read from entry e (number i, sequence count seq as
 * the lookup first read it) straight into dest, before the count is read
 * again: no copy held in between, which costs a hit more than the stores. A
 * miss leaves dest meaningless.
 */
static __always_inline void fpmap_rx_copy_out(const struct fpmap_rx_entry *e,
					      const struct fpmap_table *t, u32 i, u16 seq,
					      struct fpmap_rx_dest *dest)
{
	dest->sock_cookie = e->head.sock_cookie;
	dest->sk = e->sk;
	dest->sock_netns = e->head.sock_netns;
	dest->dev.netns = e->head.sock_netns;
	dest->dev.ifindex = e->ifindex;
	dest->order.state = READ_ONCE(e->order);
	if (dest->order.state >= FPMAP_ORDER_QUEUED)
		memcpy(dest->order.mark, fpmap_cold_at(t, i)->order_mark, sizeof(dest->order.mark));
	else
		memset(dest->order.mark, 0, sizeof(dest->order.mark));
	dest->order.slot = i;
	dest->order.seq = seq;
}

/*
 * The rest of the lookup, for what fpmap_rx_lookup()'s first look left open:
 * from its home bucket b on, the candidates m still to try. BH off.
 */
static noinline bool fpmap_rx_lookup_rest(struct fpmap *map, struct fpmap_cpu *c,
					  const struct fpmap_flow *flow, u32 hash, u32 b,
					  u64 m, struct fpmap_rx_dest *dest, u64 epoch)
{
	struct fpmap_entry_head *head;
	u16 seq = 1;
	u32 i = 0;

	head = fpmap_find_from(&c->rx, FPMAP_RX, flow, hash, 0, b, m, c->rx.nr_buckets, &i,
			       &seq);
	if (head)
		fpmap_rx_copy_out(container_of(head, struct fpmap_rx_entry, head), &c->rx, i,
				  seq, dest);
	return fpmap_outcome(map, &c->rx, FPMAP_RX, head, i, seq, epoch);
}

/*
 * Most lookups are settled by the first candidate: a hit in its entry,
 * checked at the current epoch, or a miss with no candidate at all. The
 * first look handles those with few values live (few registers to save), and
 * hands anything else (a candidate that is not the key, an overflowed bucket,
 * an epoch that moved, an entry being rewritten) to fpmap_rx_lookup_rest(),
 * which goes on from the candidate it stopped at and counts the outcome.
 */
bool fpmap_rx_lookup(struct fpmap *map, const struct fpmap_flow *flow, u32 hash,
		     struct fpmap_rx_dest *dest, struct fpmap_ticket *ticket)
{
	struct fpmap_table *t;
	struct fpmap_rx_entry *e;
	struct fpmap_cpu *c;
	bool hit;
	u16 seq;
	u32 b, i;
	u64 m;
	int cpu;

	local_bh_disable();
	cpu = smp_processor_id();
	c = per_cpu_ptr(map->cpus, cpu);
	/* The ticket is also the epoch the entry is checked against. */
	*ticket = fpmap_ticket_for(map, cpu);
	t = &c->rx;
	b = fpmap_home(t, hash);
	m = fpmap_tag_matches(&t->buckets[b], fpmap_tag(hash));
	if (!m) {
		/* No candidate: a miss, unless an entry of its class probed past. */
		if (fpmap_overflowed(&t->buckets[b], hash))
			goto rest;
		fpmap_count(&t->stats.misses);
		local_bh_enable();
		return false;
	}
	/* As in fpmap_find_from: the tag, then the entry (pairs with fpmap_fill_slot). */
	smp_rmb();
	i = fpmap_entry_at(t, b, fpmap_match_slot(m));
	e = fpmap_rx_at(t, i);
	/* Its count before its key (pairs with the release in fpmap_rewrite). */
	seq = smp_load_acquire(&e->seq);
	if (!fpmap_key_is(&e->head, flow, hash)) {
		/* Another flow's tag: the rest from the next candidate on. */
		m &= m - 1;
		goto rest;
	}
	/* The key's entry: the rest looks at it again if it was not a plain hit. */
	if (likely(!(seq & 1) && READ_ONCE(e->head.checked_epoch) == ticket->epoch)) {
		fpmap_rx_copy_out(e, t, i, seq, dest);
		smp_rmb(); /* as in fpmap_outcome */
		if (likely(READ_ONCE(e->seq) == seq)) {
			fpmap_count_hit(t, &e->referenced);
			local_bh_enable();
			return true;
		}
	}
rest:
	hit = fpmap_rx_lookup_rest(map, c, flow, hash, b, m, dest, ticket->epoch);
	local_bh_enable();
	return hit;
}

bool fpmap_tx_lookup(struct fpmap *map, const struct fpmap_flow *flow, u32 hash,
		     u64 sock_cookie, struct fpmap_tx_template *tmpl,
		     struct fpmap_ticket *ticket)
{
	struct fpmap_entry_head *head;
	struct fpmap_tx_template found;
	struct fpmap_cpu *c;
	u16 seq = 1;
	u32 i = 0;
	bool hit;
	int cpu;

	local_bh_disable();
	cpu = smp_processor_id();
	c = per_cpu_ptr(map->cpus, cpu);
	*ticket = fpmap_ticket_for(map, cpu);
	head = fpmap_find(&c->tx, FPMAP_TX, flow, hash, sock_cookie, &i, &seq);
	if (head)
		found = container_of(head, struct fpmap_tx_entry, head)->tmpl;
	hit = fpmap_outcome(map, &c->tx, FPMAP_TX, head, i, seq, ticket->epoch);
	local_bh_enable();
	if (hit)
		*tmpl = found;
	return hit;
}

/*
 * Only the lookup's CPU writes a record (readers of a table run on its CPU),
 * so its marks need no ordering against its state. What may run meanwhile is
 * an insert from another CPU (defect 7) that rewrites the entry: the record
 * must not land in the new entry, whose own is UNKNOWN. A write is followed
 * by a second look at the sequence count (full barriers here and in
 * fpmap_rewrite): if it moved, the state is put back to UNKNOWN, which is
 * right for any entry; no lookup of this CPU runs in between.
 */
void fpmap_rx_set_order(struct fpmap *map, const struct fpmap_rx_order *order)
{
	struct fpmap_rx_entry *e;
	struct fpmap_cold *cold;
	struct fpmap_cpu *c;

	local_bh_disable();
	c = this_cpu_ptr(map->cpus);
	/* A slot a hit handed out has its cold chunk; anything else is refused. */
	if (WARN_ON_ONCE(order->state > U8_MAX ||
			 order->slot >= fpmap_nr_entries(&c->rx) ||
			 !READ_ONCE(c->rx.cold[order->slot >> FPMAP_CHUNK_BITS])))
		goto out;
	e = fpmap_rx_at(&c->rx, order->slot);
	cold = fpmap_cold_at(&c->rx, order->slot);
	if (order->state >= FPMAP_ORDER_QUEUED)
		memcpy(cold->order_mark, order->mark, sizeof(cold->order_mark));
	WRITE_ONCE(e->order, order->state);
	smp_mb(); /* the record is written before the count is read again */
	if (READ_ONCE(e->seq) != order->seq)
		WRITE_ONCE(e->order, FPMAP_ORDER_UNKNOWN);
out:
	local_bh_enable();
}

/* ---- writers: everything below runs under the CPU's lock ---------------- */

static u32 fpmap_sock_chain(const struct fpmap *map, u64 cookie)
{
	return hash_64(cookie, map->sock_bits);
}

static u32 *fpmap_sock_head(const struct fpmap *map, const struct fpmap_table *t, u64 cookie)
{
	return &t->sock_heads[2 * fpmap_sock_chain(map, cookie)];
}

static unsigned long fpmap_chain_cpu_bit(const struct fpmap *map, u32 chain, int cpu)
{
	return (unsigned long)chain * map->nr_cpus + cpu;
}

static void fpmap_sock_link(const struct fpmap *map, struct fpmap_table *t, u32 i)
{
	u32 *head = fpmap_sock_head(map, t, fpmap_head_at(t, i)->sock_cookie);
	struct fpmap_cold *cold = fpmap_cold_at(t, i);

	cold->sock_prev = FPMAP_NONE;
	cold->sock_next = *head;
	if (*head != FPMAP_NONE)
		fpmap_cold_at(t, *head)->sock_prev = i;
	*head = i;
}

static void fpmap_sock_unlink(const struct fpmap *map, struct fpmap_table *t, u32 i)
{
	struct fpmap_cold *cold = fpmap_cold_at(t, i);

	if (cold->sock_prev == FPMAP_NONE)
		*fpmap_sock_head(map, t, fpmap_head_at(t, i)->sock_cookie) = cold->sock_next;
	else
		fpmap_cold_at(t, cold->sock_prev)->sock_next = cold->sock_next;
	if (cold->sock_next != FPMAP_NONE)
		fpmap_cold_at(t, cold->sock_next)->sock_prev = cold->sock_prev;
}

/*
 * Entry i leaves the cookie index and the count; its slot is empty already. A
 * reader may still be reading it: the insert that takes the slot again moves
 * its sequence count.
 */
static void fpmap_retire(const struct fpmap *map, struct fpmap_table *t, u32 i)
{
	fpmap_sock_unlink(map, t, i);
	WRITE_ONCE(t->count, t->count - 1);
}

static u8 *fpmap_tag_at(const struct fpmap_table *t, u32 i)
{
	return &t->buckets[fpmap_bucket_of(t, i)].tag[fpmap_tag_byte(fpmap_slot_of(t, i))];
}

/*
 * Adds `step` to the count of hash's class in every bucket from the hash's
 * home bucket up to (not including) bucket `last`: +1 when an entry is placed
 * past them, -1 when it leaves; and sets or clears the class's filter bit
 * where the count leaves or reaches 0. A count that reached its maximum
 * stays there, its bit set: lookups then probe on for nothing, never miss.
 */
static void fpmap_count_passed(struct fpmap_table *t, u32 hash, u32 last, int step)
{
	u32 b;

	for (b = fpmap_home(t, hash); b != last; b = fpmap_next_bucket(t, b)) {
		u8 *filter = &t->buckets[b].tag[FPMAP_OVERFLOW];
		u8 *passed = &t->passed[b][fpmap_class(hash)];

		if (*passed == FPMAP_PASSED_STUCK)
			continue;
		*passed += step;
		if (*passed)
			WRITE_ONCE(*filter, *filter | fpmap_class_bit(hash));
		else
			WRITE_ONCE(*filter, *filter & ~fpmap_class_bit(hash));
	}
}

/* Empties entry i's slot, and counts it out of the buckets it was placed past. */
static void fpmap_unslot(struct fpmap_table *t, u32 i)
{
	WRITE_ONCE(*fpmap_tag_at(t, i), 0);
	fpmap_count_passed(t, fpmap_head_at(t, i)->hash, fpmap_bucket_of(t, i), -1);
}

static void fpmap_unlink(const struct fpmap *map, struct fpmap_table *t, u32 i)
{
	fpmap_unslot(t, i);
	fpmap_retire(map, t, i);
}

/*
 * The first empty slot from the hash's home bucket on, as an entry number;
 * there is one, as there are more slots than the capacity.
 */
static u32 fpmap_free_slot(const struct fpmap_table *t, u32 hash)
{
	u32 b = fpmap_home(t, hash);
	u32 probes;

	for (probes = 0; probes < t->nr_buckets; probes++) {
		u64 empty = fpmap_tag_matches(&t->buckets[b], 0);

		if (empty)
			return fpmap_entry_at(t, b, fpmap_match_slot(empty));
		b = fpmap_next_bucket(t, b);
	}
	WARN_ON_ONCE(1);
	return FPMAP_NONE;
}

/*
 * Publishes entry i (written) in its slot; every bucket between the home
 * bucket and the slot's counts it as passed, before the slot is visible.
 */
static void fpmap_fill_slot(struct fpmap_table *t, u32 i)
{
	u32 hash = fpmap_head_at(t, i)->hash;

	fpmap_count_passed(t, hash, fpmap_bucket_of(t, i), 1);
	/* The entry, then its tag: a reader that sees the tag sees the entry. */
	smp_store_release(fpmap_tag_at(t, i), fpmap_tag(hash));
}

/*
 * Entry i's chunks (its cold part's, and a TX entry's), allocated if no insert
 * has landed in them before; false if that fails.
 */
static bool fpmap_have_chunk(struct fpmap_table *t, u32 i)
{
	u32 chunk = i >> FPMAP_CHUNK_BITS;
	struct fpmap_tx_entry *tx = NULL;
	struct fpmap_cold *cold;

	if (t->cold[chunk])
		return true;
	cold = kmalloc_array(FPMAP_CHUNK_ENTRIES, sizeof(*cold), GFP_ATOMIC | __GFP_NOWARN);
	/* Zeroed: every entry's sequence count starts even. */
	if (t->kind == FPMAP_TX)
		tx = kcalloc(FPMAP_CHUNK_ENTRIES, sizeof(*tx), GFP_ATOMIC | __GFP_NOWARN);
	if (!cold || (t->kind == FPMAP_TX && !tx)) {
		kfree(cold);
		kfree(tx);
		return false;
	}
	/* Readers find the chunks only through tags published later. */
	if (tx)
		WRITE_ONCE(t->hot.tx[chunk], tx);
	WRITE_ONCE(t->cold[chunk], cold);
	return true;
}

/*
 * Clock eviction over the entries: an entry hit since the hand last passed
 * gets a second chance, up to a bound; a stale entry goes first. Empty slots
 * are skipped; at capacity 4 in 5 slots are full. The walk is bounded: a
 * whole turn of the hand over empty slots means the count has no entry
 * behind it (a bug), and nothing is evicted.
 */
static void fpmap_evict_one(struct fpmap *map, struct fpmap_table *t)
{
	u64 epoch = fpmap_epoch(map);
	u32 nr_entries = fpmap_nr_entries(t);
	u32 empty_run = 0;
	int chances = 0;
	u32 i;

	for (;;) {
		struct fpmap_entry_head *head;
		u8 *referenced;

		i = t->hand;
		t->hand = t->hand + 1 == nr_entries ? 0 : t->hand + 1;
		if (!*fpmap_tag_at(t, i)) {
			if (WARN_ON_ONCE(++empty_run == nr_entries))
				return;
			continue;
		}
		empty_run = 0;
		head = fpmap_head_at(t, i);
		referenced = fpmap_referenced_in(head, t->kind);
		if (chances == FPMAP_EVICT_SECOND_CHANCES || !READ_ONCE(*referenced) ||
		    !fpmap_entry_current(map, t, head, i, epoch))
			break;
		WRITE_ONCE(*referenced, 0);
		chances++;
	}
	fpmap_unlink(map, t, i);
	fpmap_count(&t->stats.evictions);
}

/*
 * Writes entry i from fresh, and its cold part's generations from gens, under
 * the entry's sequence count, odd while the fields change: a reader that read
 * any of them meanwhile (the cold part when the epoch moved) counts a miss.
 */
static void fpmap_rewrite(struct fpmap_table *t, u32 i, const struct fpmap_entry_head *fresh,
			  const struct fpmap_gens *gens)
{
	struct fpmap_cold *cold = fpmap_cold_at(t, i);
	u16 *seq = fpmap_seq_in(fpmap_head_at(t, i), t->kind);
	u16 odd = *seq + 1;

	WRITE_ONCE(*seq, odd);
	/*
	 * Odd before any field changes; a full barrier, not only a store
	 * barrier: fpmap_rx_set_order() writes a record, then reads the count;
	 * either it sees the count moved or this rewrite's record lands after
	 * its own.
	 */
	smp_mb();
	cold->gen_sum = gens->sum;
	memcpy(cold->dev_slot, gens->dev_slot, sizeof(cold->dev_slot));
	if (t->kind == FPMAP_RX) {
		const struct fpmap_rx_entry *src = container_of(fresh, struct fpmap_rx_entry, head);
		struct fpmap_rx_entry *e = fpmap_rx_at(t, i);

		e->head = src->head;
		e->sk = src->sk;
		e->ifindex = src->ifindex;
		WRITE_ONCE(e->referenced, 0);
		/* Frames of the flow that missed may still be queued anywhere. */
		WRITE_ONCE(e->order, FPMAP_ORDER_UNKNOWN);
	} else {
		const struct fpmap_tx_entry *src = container_of(fresh, struct fpmap_tx_entry, head);
		struct fpmap_tx_entry *e = fpmap_tx_at(t, i);

		e->head = src->head;
		e->tmpl = src->tmpl;
		WRITE_ONCE(e->referenced, 0);
	}
	/* Pairs with the acquire in fpmap_find: the fields change before it is even again. */
	smp_store_release(seq, (u16)(odd + 1));
}

/*
 * Places the new entry (filled in `fresh`) unless an event happened since the
 * ticket was taken: the slow path's answer may predate it. The generations in
 * `gens` were read before the epoch is checked, so a concurrent event leaves
 * them old, or the epoch moved.
 *
 * The table is the ticket's CPU's, which need not be this one (issue 13,
 * defect 7: with RPS the socket's CPU inserts what the NIC's CPU looks up).
 * Its lock orders this insert against the other writers of that table, as
 * it does invalidations from other CPUs; that CPU's lockless readers may
 * run meanwhile, and the entry's sequence count and the tag published last
 * keep them from using a half-written entry (see fpmap_rewrite).
 */
static int fpmap_publish(struct fpmap *map, enum fpmap_table_kind kind,
			 const struct fpmap_entry_head *fresh, const struct fpmap_gens *gens,
			 const struct fpmap_ticket *ticket)
{
	u32 chain = fpmap_sock_chain(map, fresh->sock_cookie);
	struct fpmap_table *t;
	struct fpmap_cpu *c;
	u32 i, old;
	int err = 0;
	u16 seq;

	if (ticket->cpu >= nr_cpu_ids || !cpu_possible(ticket->cpu))
		return -EINVAL;
	c = per_cpu_ptr(map->cpus, ticket->cpu);
	t = kind == FPMAP_RX ? &c->rx : &c->tx;
	spin_lock_bh(&c->lock);
	/*
	 * The bit before the epoch check: a close either moved the epoch
	 * before the check (refused here) or reads the bit after it is set
	 * (and takes this lock after this insert). A refused insert may leave
	 * the bit set: a close then takes a lock for nothing, and clears it.
	 */
	set_bit(fpmap_chain_cpu_bit(map, chain, ticket->cpu), map->chain_cpus);
	/* Also: the generations in gens were read before this epoch. */
	smp_mb__after_atomic();
	if (fpmap_epoch(map) != ticket->epoch) {
		fpmap_count(&t->stats.insert_races);
		err = -EAGAIN;
		goto unlock;
	}
	if (fpmap_find(t, kind, &fresh->flow, fresh->hash, fresh->sock_cookie, &old, &seq))
		fpmap_unlink(map, t, old);
	else if (t->count >= map->capacity)
		fpmap_evict_one(map, t);
	i = fpmap_free_slot(t, fresh->hash);
	if (i == FPMAP_NONE || !fpmap_have_chunk(t, i)) {
		fpmap_count(&t->stats.alloc_failures);
		err = -ENOMEM;
		goto unlock;
	}
	fpmap_rewrite(t, i, fresh, gens);
	fpmap_sock_link(map, t, i);
	fpmap_fill_slot(t, i);
	WRITE_ONCE(t->count, t->count + 1);
	fpmap_count(&t->stats.inserts);
unlock:
	spin_unlock_bh(&c->lock);
	return err;
}

int fpmap_rx_insert(struct fpmap *map, const struct fpmap_ticket *ticket,
		    const struct fpmap_flow *flow, u32 hash,
		    const struct fpmap_rx_dest *dest, const struct fpmap_path *path)
{
	struct fpmap_rx_entry e = {
		.head = {
			.flow = *flow,
			.hash = hash,
			.sock_netns = dest->sock_netns,
			.checked_epoch = ticket->epoch,
			.sock_cookie = dest->sock_cookie,
		},
		.sk = dest->sk,
		.ifindex = dest->dev.ifindex,
	};
	struct fpmap_gens gens = {};

	/* The entry keeps one namespace for both (see struct fpmap_entry_head). */
	if (dest->dev.netns != dest->sock_netns)
		return -EINVAL;

	fpmap_record_path(map, &gens, path);
	gens.sum = fpmap_rx_gen_sum(map, &e, gens.dev_slot);
	return fpmap_publish(map, FPMAP_RX, &e.head, &gens, ticket);
}

int fpmap_tx_insert(struct fpmap *map, const struct fpmap_ticket *ticket,
		    const struct fpmap_flow *flow, u32 hash, u64 sock_cookie,
		    const struct fpmap_tx_template *tmpl, const struct fpmap_path *path)
{
	struct fpmap_tx_entry e = {
		.head = {
			.flow = *flow,
			.hash = hash,
			.sock_netns = flow->netns,
			.checked_epoch = ticket->epoch,
			.sock_cookie = sock_cookie,
		},
		.tmpl = *tmpl,
	};
	struct fpmap_gens gens = {};

	fpmap_record_path(map, &gens, path);
	gens.sum = fpmap_tx_gen_sum(map, &e, gens.dev_slot);
	return fpmap_publish(map, FPMAP_TX, &e.head, &gens, ticket);
}

/*
 * Unlinks the table's entries of this cookie; how many there were. The walk
 * is bounded: a chain holds each of the table's slots at most once, so a
 * walk longer than the slots is a cycle (a slot reused while still linked, a
 * bug); it warns and leaves the rest linked rather than spin under the CPU's
 * lock with bottom halves off.
 */
static unsigned int fpmap_unlink_cookie(const struct fpmap *map, struct fpmap_table *t,
					u64 sock_cookie)
{
	u32 nr_entries = fpmap_nr_entries(t);
	u32 i = *fpmap_sock_head(map, t, sock_cookie);
	unsigned int removed = 0;
	u32 walked = 0;

	while (i != FPMAP_NONE) {
		u32 next = fpmap_cold_at(t, i)->sock_next;

		if (WARN_ON_ONCE(++walked > nr_entries))
			break;
		if (fpmap_head_at(t, i)->sock_cookie == sock_cookie) {
			fpmap_unlink(map, t, i);
			removed++;
		}
		i = next;
	}
	return removed;
}

/* Entries an event removed from table t, counted under its CPU's lock. */
static void fpmap_count_invalidated(struct fpmap_table *t, unsigned int removed)
{
	WRITE_ONCE(t->stats.invalidated, t->stats.invalidated + removed);
}

/*
 * O(CPUs + the socket's entries), and a lock only on the CPUs that may hold
 * entries of the cookie's chain: each CPU indexes its entries by cookie, and
 * the chain's CPU bitmap says where that index is not empty.
 */
void fpmap_sock_closed(struct fpmap *map, u64 sock_cookie)
{
	u32 chain = fpmap_sock_chain(map, sock_cookie);
	int cpu;

	/* Ends with a full barrier: the epoch moved before any bit is read. */
	fpmap_event_begin(map);
	for_each_possible_cpu(cpu) {
		struct fpmap_cpu *c = per_cpu_ptr(map->cpus, cpu);

		if (!test_bit(fpmap_chain_cpu_bit(map, chain, cpu), map->chain_cpus))
			continue;
		spin_lock_bh(&c->lock);
		fpmap_count_invalidated(&c->rx, fpmap_unlink_cookie(map, &c->rx, sock_cookie));
		fpmap_count_invalidated(&c->tx, fpmap_unlink_cookie(map, &c->tx, sock_cookie));
		/* Under the lock inserts set it under: no entry of the chain can be linked now. */
		if (c->sock_heads[2 * chain] == FPMAP_NONE &&
		    c->sock_heads[2 * chain + 1] == FPMAP_NONE)
			clear_bit(fpmap_chain_cpu_bit(map, chain, cpu), map->chain_cpus);
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

/* Empties every slot and every cookie chain: O(buckets + chains). */
static unsigned int fpmap_unlink_all(const struct fpmap *map, struct fpmap_table *t)
{
	unsigned int removed = t->count;
	u32 b, h;

	for (b = 0; b < t->nr_buckets; b++) {
		WRITE_ONCE(t->buckets[b].tag_word[0], 0);
		WRITE_ONCE(t->buckets[b].tag_word[1], 0);
	}
	for (h = 0; h < 1u << map->sock_bits; h++)
		t->sock_heads[2 * h] = FPMAP_NONE;
	WRITE_ONCE(t->count, 0);
	return removed;
}

void fpmap_flush(struct fpmap *map)
{
	int cpu;

	fpmap_event_begin(map);
	for_each_possible_cpu(cpu) {
		struct fpmap_cpu *c = per_cpu_ptr(map->cpus, cpu);

		spin_lock_bh(&c->lock);
		fpmap_count_invalidated(&c->rx, fpmap_unlink_all(map, &c->rx));
		fpmap_count_invalidated(&c->tx, fpmap_unlink_all(map, &c->tx));
		spin_unlock_bh(&c->lock);
	}
	fpmap_event_end(map, FPMAP_EV_FLUSH);
}

/* Bounded as fpmap_unlink_cookie's walk: a cycle warns and finds nothing more. */
static bool fpmap_table_has_cookie(const struct fpmap *map, const struct fpmap_table *t,
				   u64 sock_cookie)
{
	u32 nr_entries = fpmap_nr_entries(t);
	u32 walked = 0;
	u32 i;

	for (i = *fpmap_sock_head(map, t, sock_cookie); i != FPMAP_NONE;
	     i = fpmap_cold_at(t, i)->sock_next) {
		if (WARN_ON_ONCE(++walked > nr_entries))
			break;
		if (fpmap_head_at(t, i)->sock_cookie == sock_cookie)
			return true;
	}
	return false;
}

bool fpmap_has_cookie(struct fpmap *map, u64 sock_cookie)
{
	bool found = false;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct fpmap_cpu *c = per_cpu_ptr(map->cpus, cpu);

		spin_lock_bh(&c->lock);
		found |= fpmap_table_has_cookie(map, &c->rx, sock_cookie) ||
			 fpmap_table_has_cookie(map, &c->tx, sock_cookie);
		spin_unlock_bh(&c->lock);
	}
	return found;
}

void fpmap_cpu_table_stats(struct fpmap *map, int cpu, enum fpmap_table_kind kind,
			   struct fpmap_stats *stats)
{
	struct fpmap_cpu *c = per_cpu_ptr(map->cpus, cpu);
	const struct fpmap_table *t = kind == FPMAP_RX ? &c->rx : &c->tx;

	stats->hits = READ_ONCE(t->stats.hits);
	stats->misses = READ_ONCE(t->stats.misses);
	stats->stale = READ_ONCE(t->stats.stale);
	stats->inserts = READ_ONCE(t->stats.inserts);
	stats->insert_races = READ_ONCE(t->stats.insert_races);
	stats->alloc_failures = READ_ONCE(t->stats.alloc_failures);
	stats->evictions = READ_ONCE(t->stats.evictions);
	stats->invalidated = READ_ONCE(t->stats.invalidated);
	stats->entries = READ_ONCE(t->count);
}

void fpmap_stats_add(struct fpmap_stats *sum, const struct fpmap_stats *s)
{
	sum->hits += s->hits;
	sum->misses += s->misses;
	sum->stale += s->stale;
	sum->inserts += s->inserts;
	sum->insert_races += s->insert_races;
	sum->alloc_failures += s->alloc_failures;
	sum->evictions += s->evictions;
	sum->invalidated += s->invalidated;
	sum->entries += s->entries;
}

void fpmap_cpu_stats(struct fpmap *map, int cpu, struct fpmap_stats *stats)
{
	struct fpmap_stats tx;

	fpmap_cpu_table_stats(map, cpu, FPMAP_RX, stats);
	fpmap_cpu_table_stats(map, cpu, FPMAP_TX, &tx);
	fpmap_stats_add(stats, &tx);
}

u64 fpmap_event_count(struct fpmap *map, enum fpmap_event event)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu_ptr(map->cpus, cpu)->events[event]);
	return sum;
}

unsigned int fpmap_buckets_per_cpu(const struct fpmap *map)
{
	return map->nr_buckets;
}

static u32 fpmap_chunks(const struct fpmap_table *t)
{
	return DIV_ROUND_UP(fpmap_nr_entries(t), FPMAP_CHUNK_ENTRIES);
}

/* May sleep; no lookup, insert or callback may still use the table. */
static void fpmap_free_table(struct fpmap_table *t)
{
	u32 chunk;

	if (t->cold)
		for (chunk = 0; chunk < fpmap_chunks(t); chunk++) {
			if (t->kind == FPMAP_TX && t->hot.tx)
				kfree(t->hot.tx[chunk]);
			kfree(t->cold[chunk]);
		}
	/* The RX array, or the TX directory. */
	kvfree(t->hot.rx);
	kvfree(t->cold);
	kvfree(t->passed);
	kvfree(t->buckets);
}

static int fpmap_init_table(struct fpmap *map, struct fpmap_cpu *c,
			    struct fpmap_table *t, enum fpmap_table_kind kind)
{
	t->kind = kind;
	t->nr_buckets = map->nr_buckets;
	/* Zeroed: every tag empty, no entry past any bucket. */
	t->buckets = kvcalloc(t->nr_buckets, sizeof(*t->buckets), GFP_KERNEL);
	t->passed = kvcalloc(t->nr_buckets, sizeof(*t->passed), GFP_KERNEL);
	/* Zeroed: every entry's sequence count starts even. */
	if (kind == FPMAP_RX)
		t->hot.rx = kvcalloc(fpmap_nr_entries(t), sizeof(*t->hot.rx), GFP_KERNEL);
	else
		t->hot.tx = kvcalloc(fpmap_chunks(t), sizeof(*t->hot.tx), GFP_KERNEL);
	t->cold = kvcalloc(fpmap_chunks(t), sizeof(*t->cold), GFP_KERNEL);
	t->sock_heads = c->sock_heads + kind;
	if (!t->buckets || !t->passed || (kind == FPMAP_RX ? !t->hot.rx : !t->hot.tx) ||
	    !t->cold)
		return -ENOMEM;
	return 0;
}

static unsigned int fpmap_default_gen_slots(unsigned int entries)
{
	unsigned int slots = max(entries, FPMAP_DEFAULT_MIN_GEN_SLOTS);

	return min(slots, FPMAP_MAX_GEN_SLOTS);
}

/* May sleep. Returns NULL on a bad configuration or when memory runs out. */
struct fpmap *fpmap_create(const struct fpmap_config *config)
{
	unsigned int entries = config->entries_per_cpu;
	unsigned int slots = config->generation_slots;
	struct fpmap *map;
	u32 h;
	int cpu;

	BUILD_BUG_ON(sizeof(struct fpmap_bucket) != 16);
	/*
	 * What a hit reads: an RX entry (key, hash, 64-bit checked epoch,
	 * cookie, socket, device, sequence count, reordering state) in one
	 * line, a TX entry in two; the cold part is 32 bytes (README.md).
	 */
	BUILD_BUG_ON(offsetofend(struct fpmap_rx_entry, order) > 64);
	BUILD_BUG_ON(offsetofend(struct fpmap_tx_entry, tmpl) > 128);
	BUILD_BUG_ON(sizeof(struct fpmap_cold) != 32);
	if (!entries || entries > FPMAP_MAX_ENTRIES_PER_CPU)
		return NULL;
	if (!slots)
		slots = fpmap_default_gen_slots(entries);
	if (slots > FPMAP_MAX_GEN_SLOTS)
		return NULL;

	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map)
		return NULL;
	map->capacity = entries;
	/*
	 * 5 slots for 4 entries: what fits 128 bytes a flow with a 96-byte
	 * entry (hot line and cold part). Misses pay for it: linear probing's
	 * clusters grow with the load (README.md, "Why this layout").
	 */
	map->nr_buckets = DIV_ROUND_UP(entries * FPMAP_SLOTS_PER_4_ENTRIES, 4 * FPMAP_SLOTS);
	/* A socket usually has several flows: a quarter as many cookie chains. */
	map->sock_bits = max_t(unsigned int, ilog2(roundup_pow_of_two(entries)),
			       FPMAP_MIN_SOCK_BITS + 2) - 2;
	/* At least slot 0 (never bumped) and one other. */
	map->gen_mask = roundup_pow_of_two(max(slots, 2u)) - 1;
	map->gens = kvcalloc(map->gen_mask + 1, sizeof(*map->gens), GFP_KERNEL);
	map->nr_cpus = nr_cpu_ids;
	map->chain_cpus = kvcalloc(BITS_TO_LONGS((unsigned long)nr_cpu_ids << map->sock_bits),
				   sizeof(*map->chain_cpus), GFP_KERNEL);
	map->cpus = alloc_percpu(struct fpmap_cpu);
	if (!map->gens || !map->chain_cpus || !map->cpus)
		goto fail;
	for_each_possible_cpu(cpu) {
		struct fpmap_cpu *c = per_cpu_ptr(map->cpus, cpu);

		spin_lock_init(&c->lock);
		c->sock_heads = kvcalloc(2u << map->sock_bits, sizeof(*c->sock_heads), GFP_KERNEL);
		if (!c->sock_heads)
			goto fail;
		for (h = 0; h < 2u << map->sock_bits; h++)
			c->sock_heads[h] = FPMAP_NONE;
		if (fpmap_init_table(map, c, &c->rx, FPMAP_RX) ||
		    fpmap_init_table(map, c, &c->tx, FPMAP_TX))
			goto fail;
	}
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

			fpmap_free_table(&c->rx);
			fpmap_free_table(&c->tx);
			kvfree(c->sock_heads);
		}
		free_percpu(map->cpus);
	}
	kvfree(map->gens);
	kvfree(map->chain_cpus);
	kfree(map);
}
