// SPDX-License-Identifier: GPL-2.0
/*
 * fpmap_test.ko: runs the flow map's self-test when loaded.
 *
 * The verdict is the line the self-test prints,
 * "fpmap selftest: N passed, M failed", which kernel-port/module/run-in-qemu
 * reads from the kernel log. Loading succeeds either way, so that the line is
 * there to read and the module can be unloaded to exercise its exit path;
 * the number of failures is also kept in the read-only parameter
 * /sys/module/fpmap_test/parameters/failed.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "../selftest/fpmap_selftest.h"

static int failed = -1;
module_param(failed, int, 0444);
MODULE_PARM_DESC(failed, "failed checks in the last run (-1: not run)");

static int __init fpmap_test_init(void)
{
	failed = fpmap_selftest();
	return 0;
}

static void __exit fpmap_test_exit(void)
{
}

module_init(fpmap_test_init);
module_exit(fpmap_test_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Self-test of the overlay fastpath's flow map (fpmap)");
