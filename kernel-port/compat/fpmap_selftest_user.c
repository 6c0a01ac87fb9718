// SPDX-License-Identifier: GPL-2.0
/*
 * The self-test as a userspace program: four simulated CPUs, liburcu for RCU,
 * and at the end every allocation must have been given back.
 */
#include <stdio.h>

#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/smp.h>

#include "../selftest/fpmap_selftest.h"

#define SIMULATED_CPUS 4

int main(void)
{
	int failed;
	long live;

	compat_set_nr_cpus(SIMULATED_CPUS);
	rcu_register_thread();
	failed = fpmap_selftest();
	rcu_barrier();
	rcu_unregister_thread();
	live = compat_live_allocations();
	printf("fpmap selftest: %ld live allocations at exit\n", live);
	return failed || live ? 1 : 0;
}
