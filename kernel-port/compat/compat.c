// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace runtime behind the compat/ headers: simulated CPUs, the slab's
 * live-allocation counter, poisoning and block arena, kthreads on pthreads,
 * call_rcu.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <sanitizer/asan_interface.h>

#include <urcu/wfcqueue.h>

#include <linux/kthread.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/smp.h>

unsigned int nr_cpu_ids = 1;
__thread int compat_current_cpu;

static long live_allocations;
static int allocations_to_fail;

#define POISON_FREE 0x6b

/*
 * Each allocation carries its size in front, to poison exactly what it gave
 * out. The memory is cache-line aligned, as the kernel's kmalloc gives a
 * multiple of 64 bytes (its caches for those sizes are aligned): the flow
 * map's entries are laid out by cache line.
 */
#define ALLOC_ALIGN 64

enum alloc_origin {
	FROM_MALLOC,
	FROM_ARENA,
	FROM_MAPPING,
};

struct alloc_header {
	void *base;		/* malloc's or the mapping's start; NULL: the arena's */
	size_t size;
	unsigned int origin;	/* enum alloc_origin */
	unsigned int magic;
};

#define ALLOC_MAGIC 0x4b4d414cu

/*
 * Blocks of 2 KiB or more (the flow map's chunks, bucket arrays and
 * directories) come from an arena and go back to it, kept by size in 64-byte
 * steps and given out again, poisoned until then: as the kernel's kmalloc
 * caches keep their objects. From malloc's heap a map's chunks went back to
 * the system when the map was destroyed (the heap's top is trimmed), and the
 * next map faulted every page in again, at about 15 us a fault in this
 * project's VMs: a tenth of a replay that fills bench's map. A block never
 * given out is still zero, so kzalloc() need not clear it. The sanitizer
 * builds keep malloc for everything, which tracks each block on its own.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ARENA_ENABLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define ARENA_ENABLED 0
#endif
#endif
#ifndef ARENA_ENABLED
#define ARENA_ENABLED 1
#endif

#define ARENA_MIN_BYTES 2048ul
#define ARENA_MAX_BYTES (256ul << 10)		/* larger ones: malloc */
#define ARENA_REGION_BYTES (4ul << 20)		/* mapped at a time; untouched pages cost nothing */
#define ARENA_CLASSES (ARENA_MAX_BYTES / ALLOC_ALIGN + 2)

struct arena_free_block {
	struct arena_free_block *next;
};

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static char *arena_next, *arena_end;	/* the current region's unused part */
static struct arena_free_block *arena_free[ARENA_CLASSES];	/* by block size / 64 */
static bool arena_unavailable;		/* mmap refused once: malloc from then on */
static size_t arena_in_use;		/* bytes asked for, of the blocks given out */

/* Header and size together, in 64-byte steps: the block's class. */
static size_t arena_class(size_t size)
{
	return (ALLOC_ALIGN + size + ALLOC_ALIGN - 1) / ALLOC_ALIGN;
}

/* With arena_lock held. */
static bool arena_new_region(void)
{
	char *start = mmap(NULL, ARENA_REGION_BYTES, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (start == MAP_FAILED)
		return false;
	/* What the old region had left is given up: less than one block. */
	arena_next = start;
	arena_end = start + ARENA_REGION_BYTES;
	return true;
}

/*
 * A block of the arena for @size bytes and the header in front, or NULL: use
 * malloc. *@fresh: never given out before, so still zero.
 */
static void *arena_alloc(size_t size, bool *fresh)
{
	size_t class = arena_class(size);
	void *block = NULL;

	if (!ARENA_ENABLED || size < ARENA_MIN_BYTES || size > ARENA_MAX_BYTES)
		return NULL;
	pthread_mutex_lock(&arena_lock);
	if (arena_free[class]) {
		block = arena_free[class];
		arena_free[class] = arena_free[class]->next;
		*fresh = false;
	} else if (!arena_unavailable) {
		if ((size_t)(arena_end - arena_next) < class * ALLOC_ALIGN && !arena_new_region())
			arena_unavailable = true;
		if (!arena_unavailable) {
			block = arena_next;
			arena_next += class * ALLOC_ALIGN;
			*fresh = true;
		}
	}
	if (block)
		arena_in_use += size;
	pthread_mutex_unlock(&arena_lock);
	return block;
}

/* The free list's link goes where the header's padding is, before the magic. */
static void arena_free_block(void *block, size_t size)
{
	struct arena_free_block *b = block;
	size_t class = arena_class(size);

	pthread_mutex_lock(&arena_lock);
	b->next = arena_free[class];
	arena_free[class] = b;
	arena_in_use -= size;
	pthread_mutex_unlock(&arena_lock);
}

/*
 * Zeroed blocks larger than the arena's (the flow map's RX entry arrays, one
 * per table, made at create) are mappings of their own: their pages are zero
 * until touched, so a map costs the process the pages its entries landed in,
 * not its capacity, and creating one takes no time (clearing it did, under
 * ASan most of all). The block ends where an inaccessible page starts: a read
 * past its end faults, in every build (ASan does not watch mappings). A freed
 * mapping is kept, a few at a time, for the next block of its size, which is
 * cleared then (as the arena does): a process that makes map after map (the
 * replay benchmark, the tests) does not fault the same pages in again. It is
 * not poisoned with 0x6b, which would touch every page once more; under ASan
 * it is poisoned in the shadow until it is given out again. The blocks count
 * in compat_arena_in_use(), as the kernel's kvcalloc pays for the whole block.
 */
#define MAPPING_PAGE 4096ul
#define MAPPINGS_KEPT 8

struct kept_mapping {
	char *start;		/* NULL: an empty place */
	size_t size;		/* the block's, as asked for */
};

static struct kept_mapping mappings_kept[MAPPINGS_KEPT];	/* under arena_lock */

static size_t mapping_bytes(size_t size)
{
	return (ALLOC_ALIGN + size + MAPPING_PAGE - 1) / MAPPING_PAGE * MAPPING_PAGE + MAPPING_PAGE;
}

/* Where the block (header first) begins: its end is the guard page's start. */
static void *mapping_block(char *start, size_t size)
{
	size_t used = (size + ALLOC_ALIGN - 1) / ALLOC_ALIGN * ALLOC_ALIGN + ALLOC_ALIGN;

	return start + mapping_bytes(size) - MAPPING_PAGE - used;
}

/* The mapping's start in *start; *fresh: never given out, so still zero. */
static void *mapping_alloc(size_t size, void **start, bool *fresh)
{
	size_t bytes = mapping_bytes(size);
	char *m = NULL;
	int k;

	pthread_mutex_lock(&arena_lock);
	for (k = 0; k < MAPPINGS_KEPT && !m; k++)
		if (mappings_kept[k].start && mappings_kept[k].size == size) {
			m = mappings_kept[k].start;
			mappings_kept[k].start = NULL;
		}
	pthread_mutex_unlock(&arena_lock);
	*fresh = !m;
	if (m) {
		ASAN_UNPOISON_MEMORY_REGION(m, bytes - MAPPING_PAGE);
	} else {
		m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		if (mprotect(m + bytes - MAPPING_PAGE, MAPPING_PAGE, PROT_NONE)) {
			munmap(m, bytes);
			return NULL;
		}
	}
	pthread_mutex_lock(&arena_lock);
	arena_in_use += size;
	pthread_mutex_unlock(&arena_lock);
	*start = m;
	return mapping_block(m, size);
}

static void mapping_free(char *start, size_t size)
{
	bool kept = false;
	int k;

	ASAN_POISON_MEMORY_REGION(start, mapping_bytes(size) - MAPPING_PAGE);
	pthread_mutex_lock(&arena_lock);
	arena_in_use -= size;
	for (k = 0; k < MAPPINGS_KEPT && !kept; k++)
		if (!mappings_kept[k].start) {
			mappings_kept[k].start = start;
			mappings_kept[k].size = size;
			kept = true;
		}
	pthread_mutex_unlock(&arena_lock);
	if (!kept) {
		/* The range may be mapped again, for anything. */
		ASAN_UNPOISON_MEMORY_REGION(start, mapping_bytes(size) - MAPPING_PAGE);
		munmap(start, mapping_bytes(size));
	}
}

size_t compat_arena_in_use(void)
{
	size_t bytes;

	pthread_mutex_lock(&arena_lock);
	bytes = arena_in_use;
	pthread_mutex_unlock(&arena_lock);
	return bytes;
}

void compat_set_nr_cpus(unsigned int n)
{
	nr_cpu_ids = n;
}

void compat_set_cpu(int cpu)
{
	compat_current_cpu = cpu;
}

void *compat_kmalloc(size_t size, gfp_t flags)
{
	unsigned int origin = FROM_ARENA;
	struct alloc_header *h;
	bool fresh = false;
	void *base = NULL;
	void *block;

	if (__atomic_load_n(&allocations_to_fail, __ATOMIC_RELAXED) > 0 &&
	    __atomic_sub_fetch(&allocations_to_fail, 1, __ATOMIC_RELAXED) >= 0)
		return NULL;
	block = arena_alloc(size, &fresh);
	if (!block && (flags & __GFP_ZERO) && size > ARENA_MAX_BYTES) {
		block = mapping_alloc(size, &base, &fresh);
		if (!block)
			return NULL;
		origin = FROM_MAPPING;
	} else if (!block) {
		if (posix_memalign(&base, ALLOC_ALIGN, ALLOC_ALIGN + size))
			return NULL;
		block = base;
		origin = FROM_MALLOC;
	}
	h = (struct alloc_header *)((char *)block + ALLOC_ALIGN) - 1;
	h->base = base;
	h->size = size;
	h->origin = origin;
	h->magic = ALLOC_MAGIC;
	if ((flags & __GFP_ZERO) && !fresh)
		memset(h + 1, 0, size);
	__atomic_add_fetch(&live_allocations, 1, __ATOMIC_RELAXED);
	return h + 1;
}

void compat_kfree(const void *p)
{
	struct alloc_header *h;

	if (!p)
		return;
	h = (struct alloc_header *)p - 1;
	if (h->magic != ALLOC_MAGIC) {
		fprintf(stderr, "compat_kfree: %p was not allocated by kmalloc or is freed twice\n", p);
		abort();
	}
	h->magic = 0;
	__atomic_sub_fetch(&live_allocations, 1, __ATOMIC_RELAXED);
	if (h->origin == FROM_MAPPING) {
		mapping_free(h->base, h->size);
		return;
	}
	memset(h + 1, POISON_FREE, h->size);
	if (h->origin == FROM_MALLOC)
		free(h->base);
	else
		arena_free_block((char *)(h + 1) - ALLOC_ALIGN, h->size);
}

long compat_live_allocations(void)
{
	return __atomic_load_n(&live_allocations, __ATOMIC_RELAXED);
}

void compat_fail_allocations(int n)
{
	__atomic_store_n(&allocations_to_fail, n, __ATOMIC_RELAXED);
}

struct task_struct {
	pthread_t thread;
	int (*fn)(void *data);
	void *data;
	unsigned int cpu;
	int stop;
	int ret;
};

static __thread struct task_struct *current_task;

static void *kthread_main(void *arg)
{
	struct task_struct *task = arg;

	current_task = task;
	compat_set_cpu(task->cpu);
	rcu_register_thread();
	task->ret = task->fn(task->data);
	rcu_unregister_thread();
	return NULL;
}

struct task_struct *compat_kthread_run_on_cpu(int (*fn)(void *data), void *data,
					      unsigned int cpu)
{
	struct task_struct *task = calloc(1, sizeof(*task));

	if (!task)
		return NULL;
	task->fn = fn;
	task->data = data;
	task->cpu = cpu;
	if (pthread_create(&task->thread, NULL, kthread_main, task)) {
		free(task);
		return NULL;
	}
	return task;
}

int kthread_stop(struct task_struct *task)
{
	int ret;

	__atomic_store_n(&task->stop, 1, __ATOMIC_RELEASE);
	pthread_join(task->thread, NULL);
	ret = task->ret;
	free(task);
	return ret;
}

bool kthread_should_stop(void)
{
	return current_task && __atomic_load_n(&current_task->stop, __ATOMIC_ACQUIRE);
}

/*
 * call_rcu: one worker thread takes the whole queue, waits for a grace period
 * (liburcu's synchronize_rcu) and runs the callbacks. Like the kernel's, it
 * batches: the first callback of an empty queue wakes it, and it then lets
 * callbacks gather for up to RCU_CB_BATCH_NS, or until RCU_CB_BATCH of them
 * are queued. The queue is liburcu's wait-free one, so call_rcu takes no lock
 * but to wake the worker. An rcu_barrier cuts the gathering short (liburcu's
 * own call_rcu worker sleeps 10 ms after every wake-up, which made each barrier
 * cost 10-20 ms). Callbacks are counted so that rcu_barrier waits for exactly
 * those queued before it was called.
 */
#define RCU_CB_BATCH 1024
#define RCU_CB_BATCH_NS 10000000L

static pthread_mutex_t rcu_cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rcu_cb_queued = PTHREAD_COND_INITIALIZER;
static pthread_cond_t rcu_cb_ran = PTHREAD_COND_INITIALIZER;
static pthread_once_t rcu_cb_once = PTHREAD_ONCE_INIT;
static struct cds_wfcq_head rcu_cb_head;
static struct cds_wfcq_tail rcu_cb_tail;
static unsigned long rcu_cb_waiting;		/* queued, not yet taken by the worker */
static unsigned long rcu_cb_queued_count;	/* callbacks ever queued */
static unsigned long rcu_cb_ran_count;		/* callbacks ever run; under rcu_cb_lock */
static int rcu_cb_barriers;			/* rcu_barrier calls waiting; under rcu_cb_lock */

/* With rcu_cb_lock held: let callbacks gather, unless a barrier is waiting. */
static void rcu_cb_gather(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += RCU_CB_BATCH_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!rcu_cb_barriers && __atomic_load_n(&rcu_cb_waiting, __ATOMIC_RELAXED) < RCU_CB_BATCH)
		if (pthread_cond_timedwait(&rcu_cb_queued, &rcu_cb_lock, &until))
			break;	/* timed out */
}

static void *rcu_cb_worker(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&rcu_cb_lock);
	for (;;) {
		struct cds_wfcq_head batch_head;
		struct cds_wfcq_tail batch_tail;
		struct cds_wfcq_node *node, *next;
		unsigned long count = 0;

		while (cds_wfcq_empty(&rcu_cb_head, &rcu_cb_tail))
			pthread_cond_wait(&rcu_cb_queued, &rcu_cb_lock);
		rcu_cb_gather();
		pthread_mutex_unlock(&rcu_cb_lock);

		cds_wfcq_init(&batch_head, &batch_tail);
		__atomic_store_n(&rcu_cb_waiting, 0, __ATOMIC_RELAXED);
		__cds_wfcq_splice_blocking(&batch_head, &batch_tail, &rcu_cb_head, &rcu_cb_tail);
		/* Readers that could see these entries are gone after this. */
		synchronize_rcu();
		__cds_wfcq_for_each_blocking_safe(&batch_head, &batch_tail, node, next) {
			struct rcu_head *head = caa_container_of(node, struct rcu_head, next);

			head->func(head);
			count++;
		}

		pthread_mutex_lock(&rcu_cb_lock);
		rcu_cb_ran_count += count;
		pthread_cond_broadcast(&rcu_cb_ran);
	}
	return NULL;
}

static void rcu_cb_start(void)
{
	pthread_t worker;

	cds_wfcq_init(&rcu_cb_head, &rcu_cb_tail);
	if (pthread_create(&worker, NULL, rcu_cb_worker, NULL)) {
		fprintf(stderr, "compat call_rcu: cannot start the callback thread\n");
		abort();
	}
	pthread_detach(worker);
}

static void rcu_cb_wake(void)
{
	pthread_mutex_lock(&rcu_cb_lock);
	pthread_cond_signal(&rcu_cb_queued);
	pthread_mutex_unlock(&rcu_cb_lock);
}

void compat_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head))
{
	bool was_empty;
	unsigned long waiting;

	pthread_once(&rcu_cb_once, rcu_cb_start);
	head->func = func;
	cds_wfcq_node_init(&head->next);
	__atomic_add_fetch(&rcu_cb_queued_count, 1, __ATOMIC_SEQ_CST);
	waiting = __atomic_add_fetch(&rcu_cb_waiting, 1, __ATOMIC_RELAXED);
	was_empty = !cds_wfcq_enqueue(&rcu_cb_head, &rcu_cb_tail, &head->next);
	/* Wake the worker for a new batch, or to end one that is full. */
	if (was_empty || waiting == RCU_CB_BATCH)
		rcu_cb_wake();
}

void compat_rcu_barrier(void)
{
	unsigned long target = __atomic_load_n(&rcu_cb_queued_count, __ATOMIC_SEQ_CST);

	pthread_mutex_lock(&rcu_cb_lock);
	if (rcu_cb_ran_count < target) {
		rcu_cb_barriers++;
		pthread_cond_signal(&rcu_cb_queued);
		while (rcu_cb_ran_count < target)
			pthread_cond_wait(&rcu_cb_ran, &rcu_cb_lock);
		rcu_cb_barriers--;
	}
	pthread_mutex_unlock(&rcu_cb_lock);
}
