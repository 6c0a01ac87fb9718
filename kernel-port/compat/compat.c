// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace runtime behind the compat/ headers: simulated CPUs, the slab's
 * live-allocation counter and poisoning, kthreads on pthreads, call_rcu.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

struct alloc_header {
	void *base;
	size_t size;
	size_t magic;
};

#define ALLOC_MAGIC 0x5a4c4c4f43414c4cul

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
	struct alloc_header *h;
	void *base;

	if (__atomic_load_n(&allocations_to_fail, __ATOMIC_RELAXED) > 0 &&
	    __atomic_sub_fetch(&allocations_to_fail, 1, __ATOMIC_RELAXED) >= 0)
		return NULL;
	if (posix_memalign(&base, ALLOC_ALIGN, ALLOC_ALIGN + size))
		return NULL;
	h = (struct alloc_header *)((char *)base + ALLOC_ALIGN) - 1;
	h->base = base;
	h->size = size;
	h->magic = ALLOC_MAGIC;
	if (flags & __GFP_ZERO)
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
	memset(h + 1, POISON_FREE, h->size);
	__atomic_sub_fetch(&live_allocations, 1, __ATOMIC_RELAXED);
	free(h->base);
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
