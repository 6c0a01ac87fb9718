// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace runtime behind the compat/ headers: simulated CPUs, the slab's
 * live-allocation counter and poisoning, kthreads on pthreads, call_rcu.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kthread.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/smp.h>

unsigned int nr_cpu_ids = 1;
__thread int compat_current_cpu;

static long live_allocations;
static int allocations_to_fail;

#define POISON_FREE 0x6b

/* Each allocation carries its size in front, to poison exactly what it gave out. */
struct alloc_header {
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

	if (__atomic_load_n(&allocations_to_fail, __ATOMIC_RELAXED) > 0 &&
	    __atomic_sub_fetch(&allocations_to_fail, 1, __ATOMIC_RELAXED) >= 0)
		return NULL;
	h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
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
	free(h);
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
 * (liburcu's synchronize_rcu) and runs the callbacks. Batches are numbered so
 * that rcu_barrier can wait for the batch holding the last callback queued
 * before it was called.
 */
static pthread_mutex_t rcu_cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rcu_cb_queued = PTHREAD_COND_INITIALIZER;
static pthread_cond_t rcu_cb_ran = PTHREAD_COND_INITIALIZER;
static struct cds_wfcq_node *rcu_cb_first;
static struct cds_wfcq_node **rcu_cb_last = &rcu_cb_first;
static unsigned long rcu_cb_queued_count;	/* callbacks ever queued */
static unsigned long rcu_cb_ran_count;		/* callbacks ever run */
static bool rcu_cb_worker_started;

static void *rcu_cb_worker(void *unused)
{
	(void)unused;
	for (;;) {
		struct cds_wfcq_node *batch;
		unsigned long count = 0;

		pthread_mutex_lock(&rcu_cb_lock);
		while (!rcu_cb_first)
			pthread_cond_wait(&rcu_cb_queued, &rcu_cb_lock);
		batch = rcu_cb_first;
		rcu_cb_first = NULL;
		rcu_cb_last = &rcu_cb_first;
		pthread_mutex_unlock(&rcu_cb_lock);

		/* Readers that could see these entries are gone after this. */
		synchronize_rcu();
		while (batch) {
			struct rcu_head *head = caa_container_of(batch, struct rcu_head, next);

			batch = batch->next;
			head->func(head);
			count++;
		}

		pthread_mutex_lock(&rcu_cb_lock);
		rcu_cb_ran_count += count;
		pthread_cond_broadcast(&rcu_cb_ran);
		pthread_mutex_unlock(&rcu_cb_lock);
	}
	return NULL;
}

void compat_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head))
{
	head->func = func;
	head->next.next = NULL;
	pthread_mutex_lock(&rcu_cb_lock);
	if (!rcu_cb_worker_started) {
		pthread_t worker;

		if (pthread_create(&worker, NULL, rcu_cb_worker, NULL)) {
			fprintf(stderr, "compat call_rcu: cannot start the callback thread\n");
			abort();
		}
		pthread_detach(worker);
		rcu_cb_worker_started = true;
	}
	*rcu_cb_last = &head->next;
	rcu_cb_last = &head->next.next;
	rcu_cb_queued_count++;
	pthread_cond_signal(&rcu_cb_queued);
	pthread_mutex_unlock(&rcu_cb_lock);
}

void compat_rcu_barrier(void)
{
	unsigned long target;

	pthread_mutex_lock(&rcu_cb_lock);
	target = rcu_cb_queued_count;
	while (rcu_cb_ran_count < target)
		pthread_cond_wait(&rcu_cb_ran, &rcu_cb_lock);
	pthread_mutex_unlock(&rcu_cb_lock);
}
