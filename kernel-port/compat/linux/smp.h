/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Simulated CPUs: each thread says which CPU it runs on (compat_set_cpu), and
 * the number of possible CPUs is fixed before any per-CPU allocation.
 */
#ifndef COMPAT_LINUX_SMP_H
#define COMPAT_LINUX_SMP_H

#ifdef __cplusplus
extern "C" {
#endif

extern unsigned int nr_cpu_ids;
extern __thread int compat_current_cpu;

void compat_set_nr_cpus(unsigned int n);
void compat_set_cpu(int cpu);

#ifdef __cplusplus
}
#endif

#define smp_processor_id() (compat_current_cpu)
#define raw_smp_processor_id() (compat_current_cpu)
#define num_possible_cpus() (nr_cpu_ids)
#define for_each_possible_cpu(cpu) \
	for ((cpu) = 0; (cpu) < (int)nr_cpu_ids; (cpu)++)
#define for_each_online_cpu(cpu) for_each_possible_cpu(cpu)
#define num_online_cpus() (nr_cpu_ids)

#endif
