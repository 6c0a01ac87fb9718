// SPDX-License-Identifier: GPL-2.0
/*
 * The flow map's self-test. The same file runs as a userspace binary (through
 * compat/, under ASan and UBSan) and inside a real kernel as a module.
 */
#include <asm/byteorder.h>
#include <linux/atomic.h>
#include <linux/cpu.h>
#include <linux/bottom_half.h>
#include <linux/errno.h>
#include <linux/err.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "../fpmap.h"
#include "fpmap_selftest.h"

static int tests_passed;
static int tests_failed;

static void check(bool ok, const char *what, int line)
{
	if (ok) {
		tests_passed++;
		return;
	}
	tests_failed++;
	pr_err("fpmap selftest: FAILED at line %d: %s\n", line, what);
}

#define CHECK(cond) check(!!(cond), #cond, __LINE__)

#define NS_UNDERLAY 1
#define NS_C1 7
#define NS_C2 8
#define PROTO_UDP 17
#define PROTO_TCP 6

static struct fpmap *new_map(unsigned int entries)
{
	struct fpmap_config config = { .entries_per_cpu = entries };

	return fpmap_create(&config);
}

static struct fpmap_flow udp_flow(u16 sport, u16 dport, u32 vni)
{
	struct fpmap_flow flow;

	memset(&flow, 0, sizeof(flow));
	flow.saddr = cpu_to_be32(0x0ae90202);	/* 10.233.2.2 */
	flow.daddr = cpu_to_be32(0x0ae90102);	/* 10.233.1.2 */
	flow.sport = cpu_to_be16(sport);
	flow.dport = cpu_to_be16(dport);
	flow.proto = PROTO_UDP;
	flow.vni = vni;
	flow.netns = NS_UNDERLAY;
	return flow;
}

/* A hash that collides on purpose when asked to: the key must still decide. */
static u32 flow_hash(const struct fpmap_flow *flow)
{
	return be16_to_cpu(flow->sport) * 2654435761u ^ be16_to_cpu(flow->dport);
}

static struct fpmap_rx_dest rx_dest(u64 cookie, u32 netns, int ifindex)
{
	struct fpmap_rx_dest dest;

	memset(&dest, 0, sizeof(dest));
	dest.sock_cookie = cookie;
	dest.sk = (void *)(unsigned long)(0x1000 + cookie);
	dest.sock_netns = netns;
	dest.dev.netns = netns;
	dest.dev.ifindex = ifindex;
	return dest;
}

/* vxlan42 and br42 in the underlay, the host veth end, the container's eth0. */
static struct fpmap_path container_path(u32 netns)
{
	struct fpmap_path path;

	memset(&path, 0, sizeof(path));
	path.dev[0].netns = NS_UNDERLAY;
	path.dev[0].ifindex = 10;
	path.dev[1].netns = NS_UNDERLAY;
	path.dev[1].ifindex = 11;
	path.dev[2].netns = NS_UNDERLAY;
	path.dev[2].ifindex = 12;
	path.dev[3].netns = netns;
	path.dev[3].ifindex = 2;
	return path;
}

static int insert_rx(struct fpmap *map, const struct fpmap_flow *flow, u64 cookie,
		     u32 netns)
{
	struct fpmap_rx_dest dest = rx_dest(cookie, netns, 2);
	struct fpmap_path path = container_path(netns);
	struct fpmap_rx_dest found;
	struct fpmap_ticket ticket;

	fpmap_rx_lookup(map, flow, flow_hash(flow), &found, &ticket);
	return fpmap_rx_insert(map, &ticket, flow, flow_hash(flow), &dest, &path);
}

/* Returns the cookie the flow hits, or 0 on a miss. */
static u64 lookup_rx(struct fpmap *map, const struct fpmap_flow *flow)
{
	struct fpmap_rx_dest dest;
	struct fpmap_ticket ticket;

	if (!fpmap_rx_lookup(map, flow, flow_hash(flow), &dest, &ticket))
		return 0;
	return dest.sock_cookie;
}

static struct fpmap_stats stats_of(struct fpmap *map, int cpu)
{
	struct fpmap_stats stats;

	fpmap_cpu_stats(map, cpu, &stats);
	return stats;
}

static void test_config(void)
{
	struct fpmap_config zero = { .entries_per_cpu = 0 };
	struct fpmap *map;

	CHECK(!fpmap_create(&zero));
	/* Buckets of 15 slots, 5 slots for every 4 entries. */
	map = new_map(1000);
	CHECK(map && fpmap_buckets_per_cpu(map) == 84);
	fpmap_destroy(map);
	map = new_map(100000);
	CHECK(map && fpmap_buckets_per_cpu(map) == 8334);
	fpmap_destroy(map);
	map = new_map(1);
	CHECK(map && fpmap_buckets_per_cpu(map) == 1);
	fpmap_destroy(map);
}

static void test_insert_hit_miss(void)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow flow = udp_flow(4000, 5000, 42);
	struct fpmap_flow other_port = udp_flow(4001, 5000, 42);
	struct fpmap_flow other_vni = udp_flow(4000, 5000, 43);
	struct fpmap_flow other_netns = flow;
	struct fpmap_flow other_addr = flow;
	struct fpmap_rx_dest dest;
	struct fpmap_stats before, after;
	struct fpmap_ticket ticket;
	int cpu;

	local_bh_disable();
	cpu = smp_processor_id();
	local_bh_enable();
	before = stats_of(map, cpu);
	other_netns.netns = NS_UNDERLAY + 1;
	other_addr.saddr = cpu_to_be32(0x0ae90203);

	CHECK(lookup_rx(map, &flow) == 0);
	CHECK(insert_rx(map, &flow, 11, NS_C1) == 0);
	CHECK(fpmap_rx_lookup(map, &flow, flow_hash(&flow), &dest, &ticket));
	CHECK(dest.sock_cookie == 11 && dest.sk == (void *)0x100b);
	CHECK(dest.dev.netns == NS_C1 && dest.dev.ifindex == 2);
	CHECK(lookup_rx(map, &other_port) == 0);
	/* Same 5-tuple, another tenant: a miss, whatever the hash says. */
	CHECK(fpmap_rx_lookup(map, &other_vni, flow_hash(&flow), &dest, &ticket) == false);
	CHECK(fpmap_rx_lookup(map, &other_netns, flow_hash(&flow), &dest, &ticket) == false);
	CHECK(fpmap_rx_lookup(map, &other_addr, flow_hash(&flow), &dest, &ticket) == false);
	/* The right key under another hash lands in another bucket: a miss, never a wrong hit. */
	CHECK(fpmap_rx_lookup(map, &flow, flow_hash(&flow) + 1, &dest, &ticket) == false);

	after = stats_of(map, cpu);
	CHECK(after.inserts - before.inserts == 1);
	CHECK(after.hits - before.hits == 1);
	CHECK(after.misses - before.misses == 7);
	CHECK(after.entries == 1);
	fpmap_destroy(map);
}

static void test_colliding_hashes(void)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow tenant_a = udp_flow(4000, 5000, 42);
	struct fpmap_flow tenant_b = udp_flow(4000, 5000, 43);
	struct fpmap_rx_dest a = rx_dest(21, NS_C1, 2), b = rx_dest(22, NS_C2, 2);
	struct fpmap_path pa = container_path(NS_C1), pb = container_path(NS_C2);
	struct fpmap_rx_dest found;
	struct fpmap_ticket ticket;
	u32 hash = 0xdeadbeef;

	fpmap_rx_lookup(map, &tenant_a, hash, &found, &ticket);
	CHECK(fpmap_rx_insert(map, &ticket, &tenant_a, hash, &a, &pa) == 0);
	CHECK(fpmap_rx_insert(map, &ticket, &tenant_b, hash, &b, &pb) == 0);
	CHECK(fpmap_rx_lookup(map, &tenant_a, hash, &found, &ticket) && found.sock_cookie == 21);
	CHECK(fpmap_rx_lookup(map, &tenant_b, hash, &found, &ticket) && found.sock_cookie == 22);
	fpmap_destroy(map);
}

static void test_replace_same_key(void)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow flow = udp_flow(4000, 5000, 42);
	int cpu;

	CHECK(insert_rx(map, &flow, 31, NS_C1) == 0);
	CHECK(insert_rx(map, &flow, 32, NS_C1) == 0);
	CHECK(lookup_rx(map, &flow) == 32);
	local_bh_disable();
	cpu = smp_processor_id();
	local_bh_enable();
	CHECK(stats_of(map, cpu).entries == 1);
	fpmap_destroy(map);
}

/* An event between the miss and the insert: the slow path's answer may be old. */
static void test_insert_race(void)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow flow = udp_flow(4000, 5000, 42);
	struct fpmap_rx_dest dest = rx_dest(41, NS_C1, 2), found;
	struct fpmap_path path = container_path(NS_C1);
	struct fpmap_ticket ticket;
	int cpu;

	fpmap_rx_lookup(map, &flow, flow_hash(&flow), &found, &ticket);
	fpmap_sock_rebound(map, NS_C2, PROTO_UDP, 9999);
	CHECK(fpmap_rx_insert(map, &ticket, &flow, flow_hash(&flow), &dest, &path) == -EAGAIN);
	CHECK(lookup_rx(map, &flow) == 0);
	local_bh_disable();
	cpu = smp_processor_id();
	local_bh_enable();
	CHECK(stats_of(map, cpu).insert_races == 1);
	CHECK(stats_of(map, cpu).entries == 0);
	fpmap_destroy(map);
}

/*
 * Issue 13, defect 3: every event moves the epoch twice, so a 32-bit epoch
 * is back where it was after 2^31 events. An entry last found current there,
 * or a ticket taken there, then passes the one-compare check while the event
 * that made it stale is among those 2^31. The epoch is moved by the test hook
 * instead of 2^31 real events (minutes in userspace, hours in qemu).
 */
static void test_epoch_wraparound(void)
{
	const u64 wrap = 1ull << 32;
	struct fpmap *map = new_map(64);
	struct fpmap_flow flow = udp_flow(4000, 5000, 42);
	struct fpmap_flow raced = udp_flow(4001, 5000, 42);
	struct fpmap_rx_dest dest = rx_dest(81, NS_C1, 2), found;
	struct fpmap_path path = container_path(NS_C1);
	struct fpmap_ticket ticket;
	struct fpmap_stats before;
	int cpu;

	local_bh_disable();
	cpu = smp_processor_id();
	local_bh_enable();
	CHECK(insert_rx(map, &flow, 81, NS_C1) == 0);
	CHECK(lookup_rx(map, &flow) == 81);
	fpmap_rx_lookup(map, &raced, flow_hash(&raced), &found, &ticket);
	/* A socket bound on the entry's port in its namespace: stale now. */
	fpmap_sock_rebound(map, NS_C1, PROTO_UDP, 5000);
	/* ...and 2^31 - 1 more events: 2^32 moves of the epoch in all. */
	fpmap_selftest_move_epoch(map, wrap - 2);
	before = stats_of(map, cpu);
	CHECK(lookup_rx(map, &flow) == 0);
	CHECK(stats_of(map, cpu).stale - before.stale == 1);
	/* The ticket from before the rebind is refused too. */
	CHECK(fpmap_rx_insert(map, &ticket, &raced, flow_hash(&raced), &dest, &path) == -EAGAIN);
	CHECK(lookup_rx(map, &raced) == 0);
	/* The slow path's new answer is cached and hits, past the wrap. */
	CHECK(insert_rx(map, &flow, 82, NS_C1) == 0);
	CHECK(lookup_rx(map, &flow) == 82);
	fpmap_destroy(map);
}

/* The reordering record of the flow's entry as a hit hands it out (state 99: a miss). */
static struct fpmap_rx_order order_of(struct fpmap *map, const struct fpmap_flow *flow)
{
	struct fpmap_rx_dest dest;
	struct fpmap_ticket ticket;

	if (!fpmap_rx_lookup(map, flow, flow_hash(flow), &dest, &ticket))
		dest.order.state = 99;
	return dest.order;
}

/*
 * Issue 13, defect 2: an RX entry keeps where the flow's last slow frames
 * may be queued. An insert makes it UNKNOWN; what the lookup's CPU writes
 * back is what the next hit reads; a record written back after an insert
 * rewrote the entry does not land in the new entry, which stays UNKNOWN.
 */
static void test_reordering_record(void)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow flow = udp_flow(4000, 5000, 42);
	struct fpmap_rx_order order, stale;

	CHECK(insert_rx(map, &flow, 61, NS_C1) == 0);
	order = order_of(map, &flow);
	CHECK(order.state == FPMAP_ORDER_UNKNOWN);

	order.state = FPMAP_ORDER_QUEUED;
	order.mark[0] = 5;
	order.mark[1] = 0xfffffff0;
	fpmap_rx_set_order(map, &order);
	order = order_of(map, &flow);
	CHECK(order.state == FPMAP_ORDER_QUEUED && order.mark[0] == 5 &&
	      order.mark[1] == 0xfffffff0);

	order.state = FPMAP_ORDER_CLEAR;
	fpmap_rx_set_order(map, &order);
	order = order_of(map, &flow);
	CHECK(order.state == FPMAP_ORDER_CLEAR && order.mark[0] == 0);
	CHECK(lookup_rx(map, &flow) == 61);

	/* A new entry for the flow (a frame that missed reached the socket): unknown again. */
	CHECK(insert_rx(map, &flow, 61, NS_C1) == 0);
	order = order_of(map, &flow);
	CHECK(order.state == FPMAP_ORDER_UNKNOWN);

	/*
	 * The lost race: a hit's record, written back after another insert
	 * rewrote the same slot. (The insert runs on this CPU here; in the
	 * kernel it is another CPU's, under the same sequence count.)
	 */
	order.state = FPMAP_ORDER_CLEAR;
	fpmap_rx_set_order(map, &order);
	stale = order_of(map, &flow);
	CHECK(stale.state == FPMAP_ORDER_CLEAR);
	CHECK(insert_rx(map, &flow, 62, NS_C1) == 0);
	order = order_of(map, &flow);
	CHECK(order.slot == stale.slot && order.seq != stale.seq);
	fpmap_rx_set_order(map, &stale);
	order = order_of(map, &flow);
	CHECK(order.state == FPMAP_ORDER_UNKNOWN);
	CHECK(lookup_rx(map, &flow) == 62);
	fpmap_destroy(map);
}

struct insert_on_cpu_args {
	struct fpmap *map;
	struct fpmap_flow flow;
	u64 cookie;
};

static long insert_on_cpu(void *data)
{
	struct insert_on_cpu_args *args = data;

	return insert_rx(args->map, &args->flow, args->cookie, NS_C1);
}

static long lookup_on_cpu(void *data)
{
	struct insert_on_cpu_args *args = data;

	return (long)lookup_rx(args->map, &args->flow);
}

struct ticket_on_cpu_args {
	struct fpmap *map;
	struct fpmap_flow flow;
	struct fpmap_ticket ticket;
};

/* The NIC's CPU: the lookup misses and hands out its ticket. */
static long miss_on_cpu(void *data)
{
	struct ticket_on_cpu_args *args = data;
	struct fpmap_rx_dest found;

	return fpmap_rx_lookup(args->map, &args->flow, flow_hash(&args->flow), &found,
			       &args->ticket);
}

/* The socket's CPU (RPS, threaded NAPI): the slow path's insert, with the lookup's ticket. */
static long insert_with_ticket_on_cpu(void *data)
{
	struct ticket_on_cpu_args *args = data;
	struct fpmap_rx_dest dest = rx_dest(91, NS_C1, 2);
	struct fpmap_path path = container_path(NS_C1);

	return fpmap_rx_insert(args->map, &args->ticket, &args->flow, flow_hash(&args->flow),
			       &dest, &path);
}

/*
 * Issue 13, defect 7: with RPS or threaded NAPI the socket, and so the
 * insert, runs on another CPU than the lookup. The entry must land in the
 * lookup's CPU's table, or the flow's next lookup there misses forever.
 */
static void test_insert_on_the_lookups_cpu(void)
{
	struct fpmap *map = new_map(64);
	struct ticket_on_cpu_args args = { .map = map, .flow = udp_flow(4000, 5000, 42) };
	struct insert_on_cpu_args lookup = { .map = map, .flow = args.flow };
	int cpu, nic_cpu = -1, sock_cpu = -1;

	for_each_online_cpu(cpu) {
		if (nic_cpu < 0)
			nic_cpu = cpu;
		else if (sock_cpu < 0)
			sock_cpu = cpu;
	}
	if (sock_cpu < 0) {
		pr_info("fpmap selftest: one CPU, no cross-CPU insert to test\n");
		fpmap_destroy(map);
		return;
	}
	CHECK(work_on_cpu(nic_cpu, miss_on_cpu, &args) == 0);
	CHECK(args.ticket.cpu == nic_cpu);
	CHECK(work_on_cpu(sock_cpu, insert_with_ticket_on_cpu, &args) == 0);
	CHECK(work_on_cpu(nic_cpu, lookup_on_cpu, &lookup) == 91);
	CHECK(work_on_cpu(sock_cpu, lookup_on_cpu, &lookup) == 0);
	CHECK(stats_of(map, nic_cpu).inserts == 1 && stats_of(map, nic_cpu).entries == 1);
	CHECK(stats_of(map, sock_cpu).inserts == 0 && stats_of(map, sock_cpu).entries == 0);
	/* A ticket naming no CPU is refused, not followed. */
	args.ticket.cpu = nr_cpu_ids;
	CHECK(work_on_cpu(sock_cpu, insert_with_ticket_on_cpu, &args) == -EINVAL);
	fpmap_destroy(map);
}

static void test_sock_close(void)
{
	struct fpmap *map = new_map(64);
	struct insert_on_cpu_args args = { .map = map };
	unsigned long closed_before;
	int cpu, port;

	/* Socket 51 has three flows on every CPU; socket 52 one. */
	for_each_online_cpu(cpu) {
		for (port = 4000; port < 4003; port++) {
			args.flow = udp_flow(port, 5000, 42);
			args.cookie = 51;
			CHECK(work_on_cpu(cpu, insert_on_cpu, &args) == 0);
		}
		args.flow = udp_flow(4100, 5001, 42);
		args.cookie = 52;
		CHECK(work_on_cpu(cpu, insert_on_cpu, &args) == 0);
	}
	CHECK(fpmap_has_cookie(map, 51));
	closed_before = 0;
	for_each_online_cpu(cpu)
		closed_before += stats_of(map, cpu).invalidated;

	fpmap_sock_closed(map, 51);

	CHECK(!fpmap_has_cookie(map, 51));
	CHECK(fpmap_has_cookie(map, 52));
	CHECK(fpmap_event_count(map, FPMAP_EV_SOCK_CLOSE) == 1);
	for_each_online_cpu(cpu) {
		args.flow = udp_flow(4001, 5000, 42);
		CHECK(work_on_cpu(cpu, lookup_on_cpu, &args) == 0);
		args.flow = udp_flow(4100, 5001, 42);
		CHECK(work_on_cpu(cpu, lookup_on_cpu, &args) == 52);
		CHECK(stats_of(map, cpu).invalidated == 3);
		CHECK(stats_of(map, cpu).entries == 1);
	}
	CHECK(closed_before == 0);
	fpmap_destroy(map);
}

/*
 * A close locks only the CPUs whose bit is set for its cookie's chain, and
 * clears a CPU's bit only when no entry of the chain is left there. 17
 * sockets in a map of 16 cookie chains: two of them share a chain, and the
 * second one's close must still find its entry (issue 13, defect 5).
 */
static void test_close_of_chain_neighbours(void)
{
	struct fpmap *map = new_map(64);
	u64 cookie;

	for (cookie = 100; cookie < 117; cookie++) {
		struct fpmap_flow flow = udp_flow(4000 + cookie, 5000, 42);

		CHECK(insert_rx(map, &flow, cookie, NS_C1) == 0);
	}
	for (cookie = 100; cookie < 117; cookie++) {
		struct fpmap_flow flow = udp_flow(4000 + cookie, 5000, 42);
		struct fpmap_flow next = udp_flow(4000 + cookie + 1, 5000, 42);

		fpmap_sock_closed(map, cookie);
		CHECK(lookup_rx(map, &flow) == 0);
		CHECK(!fpmap_has_cookie(map, cookie));
		if (cookie + 1 < 117)
			CHECK(lookup_rx(map, &next) == cookie + 1);
	}
	CHECK(fpmap_event_count(map, FPMAP_EV_SOCK_CLOSE) == 17);
	fpmap_destroy(map);
}

static void test_rebind_shadows_port(void)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow to_5000 = udp_flow(4000, 5000, 42);
	struct fpmap_flow to_6000 = udp_flow(4000, 6000, 42);
	struct fpmap_stats before;
	int cpu;

	local_bh_disable();
	cpu = smp_processor_id();
	local_bh_enable();
	CHECK(insert_rx(map, &to_5000, 61, NS_C1) == 0);
	CHECK(insert_rx(map, &to_6000, 62, NS_C1) == 0);
	/* The same port in another namespace, or another protocol: no effect. */
	fpmap_sock_rebound(map, NS_C2, PROTO_UDP, 5000);
	fpmap_sock_rebound(map, NS_C1, PROTO_TCP, 5000);
	CHECK(lookup_rx(map, &to_5000) == 61);
	before = stats_of(map, cpu);

	/* A socket bound or connected on port 5000 in c1 may now win the lookup. */
	fpmap_sock_rebound(map, NS_C1, PROTO_UDP, 5000);
	CHECK(lookup_rx(map, &to_5000) == 0);
	CHECK(stats_of(map, cpu).stale - before.stale == 1);
	CHECK(lookup_rx(map, &to_6000) == 62);
	CHECK(fpmap_event_count(map, FPMAP_EV_SOCK_REBIND) == 3);
	/* The slow path's new answer replaces the stale entry. */
	CHECK(insert_rx(map, &to_5000, 63, NS_C1) == 0);
	CHECK(lookup_rx(map, &to_5000) == 63);
	fpmap_destroy(map);
}

static void test_device_events(void)
{
	static const enum fpmap_event events[] = {
		FPMAP_EV_DEV_DOWN, FPMAP_EV_DEV_DELETE, FPMAP_EV_FDB_CHANGE,
		FPMAP_EV_VNI_CHANGE,
	};
	struct fpmap_flow in_c1 = udp_flow(4000, 5000, 42);
	struct fpmap_flow in_c2 = udp_flow(4000, 5000, 43);
	struct fpmap_path path = container_path(NS_C1);
	struct fpmap_dev unrelated = { .netns = NS_C2, .ifindex = 10 };
	int i, hop;

	for (i = 0; i < ARRAY_SIZE(events); i++) {
		/* Each hop of the path, in turn, invalidates the flows crossing it. */
		for (hop = 0; hop < FPMAP_PATH_MAX; hop++) {
			struct fpmap *map = new_map(64);
			struct fpmap_path c2_path = container_path(NS_C2);
			struct fpmap_rx_dest c2_dest = rx_dest(72, NS_C2, 2), found;
			struct fpmap_ticket ticket;

			c2_path.dev[0].ifindex = 20;	/* vxlan43, br43, its veth */
			c2_path.dev[1].ifindex = 21;
			c2_path.dev[2].ifindex = 22;
			CHECK(insert_rx(map, &in_c1, 71, NS_C1) == 0);
			fpmap_rx_lookup(map, &in_c2, flow_hash(&in_c2), &found, &ticket);
			CHECK(fpmap_rx_insert(map, &ticket, &in_c2, flow_hash(&in_c2),
					      &c2_dest, &c2_path) == 0);
			fpmap_dev_event(map, &unrelated, events[i]);
			CHECK(lookup_rx(map, &in_c1) == 71);
			fpmap_dev_event(map, &path.dev[hop], events[i]);
			CHECK(lookup_rx(map, &in_c1) == 0);
			CHECK(lookup_rx(map, &in_c2) == 72);
			CHECK(fpmap_event_count(map, events[i]) == 2);
			fpmap_destroy(map);
		}
	}
}

static void test_netns_exit(void)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow to_c1 = udp_flow(4000, 5000, 42);
	struct fpmap_flow to_c2 = udp_flow(4000, 5000, 43);

	CHECK(insert_rx(map, &to_c1, 81, NS_C1) == 0);
	CHECK(insert_rx(map, &to_c2, 82, NS_C2) == 0);
	fpmap_netns_exit(map, NS_C1);
	CHECK(lookup_rx(map, &to_c1) == 0);
	CHECK(lookup_rx(map, &to_c2) == 82);
	/* The underlay going away takes every RX flow with it. */
	fpmap_netns_exit(map, NS_UNDERLAY);
	CHECK(lookup_rx(map, &to_c2) == 0);
	CHECK(fpmap_event_count(map, FPMAP_EV_NETNS_EXIT) == 2);
	fpmap_destroy(map);
}

static void test_flush(void)
{
	struct fpmap *map = new_map(64);
	struct insert_on_cpu_args args = { .map = map, .cookie = 91 };
	int cpu, port;

	for_each_online_cpu(cpu) {
		for (port = 4000; port < 4010; port++) {
			args.flow = udp_flow(port, 5000, 42);
			CHECK(work_on_cpu(cpu, insert_on_cpu, &args) == 0);
		}
	}
	fpmap_flush(map);
	CHECK(fpmap_event_count(map, FPMAP_EV_FLUSH) == 1);
	CHECK(!fpmap_has_cookie(map, 91));
	for_each_online_cpu(cpu) {
		CHECK(stats_of(map, cpu).entries == 0);
		CHECK(stats_of(map, cpu).invalidated == 10);
		args.flow = udp_flow(4005, 5000, 42);
		CHECK(work_on_cpu(cpu, lookup_on_cpu, &args) == 0);
	}
	fpmap_destroy(map);
}

/* Capacity bounds memory; recently hit flows survive the clock hand once. */
static void test_eviction(void)
{
	struct fpmap *map = new_map(8);
	struct fpmap_flow flow;
	struct fpmap_stats stats;
	int cpu, port, hot_survivors = 0;

	local_bh_disable();
	cpu = smp_processor_id();
	local_bh_enable();
	for (port = 0; port < 8; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		CHECK(insert_rx(map, &flow, 100 + port, NS_C1) == 0);
	}
	for (port = 0; port < 4; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		CHECK(lookup_rx(map, &flow) == 100 + port);
	}
	for (port = 8; port < 12; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		CHECK(insert_rx(map, &flow, 100 + port, NS_C1) == 0);
	}
	stats = stats_of(map, cpu);
	CHECK(stats.entries == 8);
	CHECK(stats.evictions == 4);
	for (port = 0; port < 4; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		hot_survivors += lookup_rx(map, &flow) == 100 + port;
	}
	CHECK(hot_survivors == 4);
	for (port = 4; port < 8; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		CHECK(lookup_rx(map, &flow) == 0);
	}
	/* Well past capacity, the bound holds. */
	for (port = 100; port < 1100; port++) {
		flow = udp_flow(port, 5000, 42);
		CHECK(insert_rx(map, &flow, 7, NS_C1) == 0);
	}
	CHECK(stats_of(map, cpu).entries == 8);
	fpmap_destroy(map);
}

static int insert_rx_hashed(struct fpmap *map, const struct fpmap_flow *flow, u32 hash,
			    u64 cookie)
{
	struct fpmap_rx_dest dest = rx_dest(cookie, NS_C1, 2);
	struct fpmap_path path = container_path(NS_C1);
	struct fpmap_ticket ticket = fpmap_take_ticket(map);

	return fpmap_rx_insert(map, &ticket, flow, hash, &dest, &path);
}

static u64 lookup_rx_hashed(struct fpmap *map, const struct fpmap_flow *flow, u32 hash)
{
	struct fpmap_rx_dest dest;
	struct fpmap_ticket ticket;

	return fpmap_rx_lookup(map, flow, hash, &dest, &ticket) ? dest.sock_cookie : 0;
}

/*
 * One hash for 40 flows: one home bucket of 15 slots, the rest probed past
 * it into the next buckets; removing some keeps the others reachable.
 */
static void check_full_bucket_overflows(u32 hash)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow flow;
	int cpu, port, hits = 0;

	local_bh_disable();
	cpu = smp_processor_id();
	local_bh_enable();
	for (port = 0; port < 40; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		CHECK(insert_rx_hashed(map, &flow, hash, 500 + port) == 0);
	}
	for (port = 0; port < 40; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		hits += lookup_rx_hashed(map, &flow, hash) == 500 + port;
	}
	CHECK(hits == 40);
	/* The first fifteen filled the home bucket: empty it. */
	for (port = 0; port < 15; port++)
		fpmap_sock_closed(map, 500 + port);
	for (hits = 0, port = 0; port < 40; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		hits += lookup_rx_hashed(map, &flow, hash) == (port < 15 ? 0 : 500 + port);
	}
	CHECK(hits == 40);
	flow = udp_flow(3999, 5000, 42);
	CHECK(lookup_rx_hashed(map, &flow, hash) == 0);
	/* The emptied slots are taken again, and the probed-past entries stay reachable. */
	for (port = 40; port < 55; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		CHECK(insert_rx_hashed(map, &flow, hash, 500 + port) == 0);
	}
	for (hits = 0, port = 15; port < 55; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		hits += lookup_rx_hashed(map, &flow, hash) == 500 + port;
	}
	CHECK(hits == 40);
	CHECK(stats_of(map, cpu).entries == 40);
	fpmap_destroy(map);
}

/*
 * 64 entries: 6 buckets. 0xdeadbeef's home is bucket 2 (overflow into 3 and
 * 4); 0xdeadbef3's is bucket 5, the last, so its overflow wraps to 0 and 1.
 */
static void test_full_bucket_overflows(void)
{
	check_full_bucket_overflows(0xdeadbeef);
	check_full_bucket_overflows(0xdeadbef3);
}

/* The overflow filter's bit for a hash: its class is the hash's bits 21..23. */
static u8 overflow_bit(u32 hash)
{
	return 1 << ((hash >> 21) & 7);
}

/*
 * The overflow filter: a class's bit is set in a bucket while an entry of
 * that class lives past it, and cleared when the last one leaves, whatever
 * the other classes do. Two hashes with one home bucket and different
 * classes; the home bucket filled with the first.
 */
static void test_overflow_filter(void)
{
	struct fpmap *map = new_map(64);
	u32 h1 = 0xdeadbeef, h2, home1, home2;
	u8 bit1, bit2, filter;
	struct fpmap_flow flow;
	int cpu, port, hits;

	local_bh_disable();
	cpu = smp_processor_id();
	local_bh_enable();
	fpmap_selftest_overflow(map, cpu, h1, &home1);
	bit1 = overflow_bit(h1);
	for (h2 = h1 + 1;; h2++) {
		fpmap_selftest_overflow(map, cpu, h2, &home2);
		bit2 = overflow_bit(h2);
		if (home2 == home1 && bit2 != bit1)
			break;
	}
	CHECK(fpmap_selftest_overflow(map, cpu, h1, &home1) == 0);
	/* 15 fill the home bucket (cookies 500..514), 3 go past it (515..517). */
	for (port = 0; port < 18; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		CHECK(insert_rx_hashed(map, &flow, h1, 500 + port) == 0);
	}
	CHECK(fpmap_selftest_overflow(map, cpu, h1, &home1) == bit1);
	/* Two of the other class, past it too (cookies 600, 601). */
	for (port = 0; port < 2; port++) {
		flow = udp_flow(4100 + port, 5000, 42);
		CHECK(insert_rx_hashed(map, &flow, h2, 600 + port) == 0);
	}
	filter = fpmap_selftest_overflow(map, cpu, h1, &home1);
	CHECK(filter == (bit1 | bit2));
	/* One of them leaves: its class stays set for the other. */
	fpmap_sock_closed(map, 600);
	CHECK(fpmap_selftest_overflow(map, cpu, h1, &home1) == (bit1 | bit2));
	fpmap_sock_closed(map, 601);
	CHECK(fpmap_selftest_overflow(map, cpu, h1, &home1) == bit1);
	for (hits = 0, port = 0; port < 18; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		hits += lookup_rx_hashed(map, &flow, h1) == 500 + port;
	}
	CHECK(hits == 18);
	for (port = 15; port < 18; port++)
		fpmap_sock_closed(map, 500 + port);
	CHECK(fpmap_selftest_overflow(map, cpu, h1, &home1) == 0);
	/* Those in the home bucket still hit. */
	for (hits = 0, port = 0; port < 15; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		hits += lookup_rx_hashed(map, &flow, h1) == 500 + port;
	}
	CHECK(hits == 15);
	fpmap_destroy(map);
}

/*
 * 256 entries of one class past one bucket: more than its count holds. The
 * count stays at its maximum, so the bit stays set and every one of them is
 * still found (a count that wrapped to 0 would clear it), and it stays set
 * after they all left: slower, never wrong.
 */
static void test_overflow_count_saturates(void)
{
	struct fpmap *map = new_map(512);
	u32 hash = 0xdeadbeef, home;
	struct fpmap_flow flow;
	int cpu, port, done;
	u8 bit = overflow_bit(hash);

	local_bh_disable();
	cpu = smp_processor_id();
	local_bh_enable();
	/* 15 fill the home bucket, the next 256 go past it. */
	for (done = 0, port = 0; port < 271; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		done += insert_rx_hashed(map, &flow, hash, 500 + port) == 0;
	}
	CHECK(done == 271);
	for (done = 0, port = 0; port < 271; port++) {
		flow = udp_flow(4000 + port, 5000, 42);
		done += lookup_rx_hashed(map, &flow, hash) == 500 + port;
	}
	CHECK(done == 271);
	CHECK(fpmap_selftest_overflow(map, cpu, hash, &home) == bit);
	for (port = 0; port < 271; port++)
		fpmap_sock_closed(map, 500 + port);
	CHECK(stats_of(map, cpu).entries == 0);
	CHECK(fpmap_selftest_overflow(map, cpu, hash, &home) == bit);
	flow = udp_flow(3999, 5000, 42);
	CHECK(insert_rx_hashed(map, &flow, hash, 499) == 0);
	CHECK(lookup_rx_hashed(map, &flow, hash) == 499);
	fpmap_destroy(map);
}

/* A hash whose tag bits are 0 must not leave its slot looking empty. */
static void test_tag_of_zero_hash_bits(void)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow a = udp_flow(4000, 5000, 42), b = udp_flow(4001, 5000, 42);
	u32 hash = 0x00123456;

	CHECK(insert_rx_hashed(map, &a, hash, 61) == 0);
	CHECK(insert_rx_hashed(map, &b, hash, 62) == 0);
	CHECK(lookup_rx_hashed(map, &a, hash) == 61);
	CHECK(lookup_rx_hashed(map, &b, hash) == 62);
	fpmap_destroy(map);
}

static void test_tx_template(void)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow flow = udp_flow(5000, 4000, 0);
	struct fpmap_tx_template tmpl, found;
	struct fpmap_path path = container_path(NS_C1);
	u32 hash = flow_hash(&flow);
	struct fpmap_ticket ticket;
	int i;

	flow.netns = NS_C1;
	memset(&tmpl, 0, sizeof(tmpl));
	for (i = 0; i < FPMAP_OUTER_LEN; i++)
		tmpl.outer[i] = (u8)i;
	for (i = 0; i < FPMAP_INNER_MACS_LEN; i++)
		tmpl.inner_macs[i] = (u8)(0xa0 + i);
	tmpl.egress.netns = NS_UNDERLAY;
	tmpl.egress.ifindex = 3;

	CHECK(!fpmap_tx_lookup(map, &flow, hash, 111, &found, &ticket));
	CHECK(fpmap_tx_insert(map, &ticket, &flow, hash, 111, &tmpl, &path) == 0);
	CHECK(fpmap_tx_lookup(map, &flow, hash, 111, &found, &ticket));
	CHECK(!memcmp(&found, &tmpl, sizeof(tmpl)));
	/* Another socket sending the same 5-tuple does not get this socket's header. */
	CHECK(!fpmap_tx_lookup(map, &flow, hash, 112, &found, &ticket));
	/* A change of route or neighbour on the NIC is a device event. */
	fpmap_dev_event(map, &tmpl.egress, FPMAP_EV_DEV_DOWN);
	CHECK(fpmap_tx_lookup(map, &flow, hash, 111, &found, &ticket));
	path.dev[0] = tmpl.egress;
	ticket = fpmap_take_ticket(map);
	CHECK(fpmap_tx_insert(map, &ticket, &flow, hash, 111, &tmpl, &path) == 0);
	fpmap_dev_event(map, &tmpl.egress, FPMAP_EV_DEV_DOWN);
	CHECK(!fpmap_tx_lookup(map, &flow, hash, 111, &found, &ticket));
	CHECK(fpmap_tx_insert(map, &ticket, &flow, hash, 111, &tmpl, &path) == 0);
	fpmap_sock_closed(map, 111);
	CHECK(!fpmap_tx_lookup(map, &flow, hash, 111, &found, &ticket));
	CHECK(!fpmap_has_cookie(map, 111));
	fpmap_destroy(map);
}

static struct fpmap_stats table_stats_of(struct fpmap *map, int cpu,
					 enum fpmap_table_kind kind)
{
	struct fpmap_stats stats;

	fpmap_cpu_table_stats(map, cpu, kind, &stats);
	return stats;
}

/*
 * Each table counts its own lookups, inserts and removals, and the CPU's
 * totals add the two: a TX cache that is on must not move the RX counters
 * an operator (or the VM test) reads as the receive side's.
 */
static void test_stats_per_table(void)
{
	struct fpmap *map = new_map(64);
	struct fpmap_flow rx_flow = udp_flow(4000, 5000, 42);
	struct fpmap_flow tx_flow = udp_flow(5000, 4000, 0);
	struct fpmap_path path = container_path(NS_C1);
	struct fpmap_stats rx, tx, all;
	struct fpmap_tx_template tmpl, found;
	struct fpmap_ticket ticket;
	int cpu;

	local_bh_disable();
	cpu = smp_processor_id();
	local_bh_enable();
	tx_flow.netns = NS_C1;
	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.egress.netns = NS_UNDERLAY;
	tmpl.egress.ifindex = 3;

	/* RX: a miss, an insert, two hits. TX: two misses, an insert, a hit, a stale. */
	CHECK(insert_rx(map, &rx_flow, 61, NS_C1) == 0);
	CHECK(lookup_rx(map, &rx_flow) == 61 && lookup_rx(map, &rx_flow) == 61);
	CHECK(!fpmap_tx_lookup(map, &tx_flow, flow_hash(&tx_flow), 62, &found, &ticket));
	CHECK(!fpmap_tx_lookup(map, &tx_flow, flow_hash(&tx_flow), 62, &found, &ticket));
	CHECK(fpmap_tx_insert(map, &ticket, &tx_flow, flow_hash(&tx_flow), 62, &tmpl, &path) == 0);
	CHECK(fpmap_tx_lookup(map, &tx_flow, flow_hash(&tx_flow), 62, &found, &ticket));
	fpmap_dev_event(map, &path.dev[3], FPMAP_EV_DEV_DOWN);
	CHECK(!fpmap_tx_lookup(map, &tx_flow, flow_hash(&tx_flow), 62, &found, &ticket));

	rx = table_stats_of(map, cpu, FPMAP_RX);
	tx = table_stats_of(map, cpu, FPMAP_TX);
	CHECK(rx.misses == 1 && rx.inserts == 1 && rx.hits == 2 && rx.entries == 1);
	/* The RX entry's path has the device too: its next lookup is stale, not yet counted. */
	CHECK(rx.stale == 0);
	CHECK(tx.misses == 2 && tx.inserts == 1 && tx.hits == 1 && tx.stale == 1);
	CHECK(tx.entries == 1);
	all = stats_of(map, cpu);
	CHECK(all.hits == 3 && all.misses == 3 && all.stale == 1 && all.inserts == 2);
	CHECK(all.entries == 2);

	/* A close removes the socket's entries from the table that holds them. */
	fpmap_sock_closed(map, 62);
	rx = table_stats_of(map, cpu, FPMAP_RX);
	tx = table_stats_of(map, cpu, FPMAP_TX);
	CHECK(tx.invalidated == 1 && tx.entries == 0);
	CHECK(rx.invalidated == 0 && rx.entries == 1);
	fpmap_flush(map);
	rx = table_stats_of(map, cpu, FPMAP_RX);
	tx = table_stats_of(map, cpu, FPMAP_TX);
	all = stats_of(map, cpu);
	CHECK(rx.invalidated == 1 && tx.invalidated == 1);
	CHECK(all.invalidated == 2 && all.entries == 0);
	fpmap_destroy(map);
}

/*
 * Readers on every CPU look up while a writer inserts for socket n, closes
 * socket n - 1, rebinds, flushes and overflows the map. A reader must never
 * get a socket whose close had completed before its lookup began.
 */
#define STRESS_ROUNDS 400
#define STRESS_FLOWS 16

struct stress_state {
	struct fpmap *map;
	unsigned long closed_upto;	/* every cookie <= this is closed */
	atomic64_t lookups;
	atomic_t violations;
};

static int stress_reader(void *data)
{
	struct stress_state *st = data;
	unsigned int i = 0;

	while (!kthread_should_stop()) {
		struct fpmap_flow flow = udp_flow(4000 + i % STRESS_FLOWS, 5000, 42);
		/* pairs with the writer's release: the close is complete */
		unsigned long closed = smp_load_acquire(&st->closed_upto);
		struct fpmap_rx_dest dest;
		struct fpmap_ticket ticket;

		if (fpmap_rx_lookup(st->map, &flow, flow_hash(&flow), &dest, &ticket) &&
		    dest.sock_cookie <= closed)
			atomic_inc(&st->violations);
		atomic64_inc(&st->lookups);
		i++;
		if (!(i % 64))
			cond_resched();
	}
	return 0;
}

/* Without a lookup: the readers' counters are theirs alone. */
static long stress_insert_on_cpu(void *data)
{
	struct insert_on_cpu_args *args = data;
	struct fpmap_rx_dest dest = rx_dest(args->cookie, NS_C1, 2);
	struct fpmap_path path = container_path(NS_C1);
	struct fpmap_ticket ticket = fpmap_take_ticket(args->map);

	return fpmap_rx_insert(args->map, &ticket, &args->flow,
			       flow_hash(&args->flow), &dest, &path);
}

static void stress_writer_round(struct stress_state *st, unsigned long round)
{
	struct insert_on_cpu_args args = { .map = st->map, .cookie = round };
	int cpu, f;

	for_each_online_cpu(cpu) {
		for (f = 0; f < STRESS_FLOWS; f++) {
			args.flow = udp_flow(4000 + f, 5000, 42);
			work_on_cpu(cpu, stress_insert_on_cpu, &args);
		}
	}
	fpmap_sock_closed(st->map, round - 1);
	/* readers that see this watermark must not find the closed socket */
	smp_store_release(&st->closed_upto, round - 1);
	if (!(round % 7))
		fpmap_sock_rebound(st->map, NS_C1, PROTO_UDP, 5000);
	if (!(round % 50))
		fpmap_flush(st->map);
	cond_resched();
}

static void test_concurrent_readers(void)
{
	struct task_struct *readers[64];
	struct stress_state st;
	struct fpmap_stats stats;
	u64 counted = 0;
	int cpu, nr = 0, i;
	unsigned long round;

	memset(&st, 0, sizeof(st));
	/* Fewer entries than flows: eviction runs under the readers too. */
	st.map = new_map(STRESS_FLOWS / 2);
	CHECK(st.map);
	if (!st.map)
		return;
	for_each_online_cpu(cpu) {
		struct task_struct *t;

		if (nr == ARRAY_SIZE(readers))
			break;
		t = kthread_run_on_cpu(stress_reader, &st, cpu, "fpmap_reader/%u");
		CHECK(!IS_ERR_OR_NULL(t));
		if (!IS_ERR_OR_NULL(t))
			readers[nr++] = t;
	}
	for (round = 1; round <= STRESS_ROUNDS; round++)
		stress_writer_round(&st, round);
	for (i = 0; i < nr; i++)
		CHECK(kthread_stop(readers[i]) == 0);

	CHECK(atomic_read(&st.violations) == 0);
	for_each_online_cpu(cpu) {
		stats = stats_of(st.map, cpu);
		counted += stats.hits + stats.misses + stats.stale;
		CHECK(stats.entries <= STRESS_FLOWS / 2);
		CHECK(stats.evictions > 0);
	}
	CHECK(counted == (u64)atomic64_read(&st.lookups));
	CHECK(atomic64_read(&st.lookups) > 0);
	fpmap_destroy(st.map);
}

struct pinned_case {
	void (*run)(void);
};

static long run_pinned_case(void *data)
{
	struct pinned_case *c = data;

	c->run();
	return 0;
}

/*
 * Cases that insert and look up on "this" CPU must stay on one CPU: run them
 * bound to the first online CPU, as softirq code would be.
 */
static void run_on_one_cpu(void (*run)(void))
{
	struct pinned_case c = { .run = run };
	int cpu;

	for_each_online_cpu(cpu)
		break;
	work_on_cpu(cpu, run_pinned_case, &c);
}

int fpmap_selftest(void)
{
	tests_passed = 0;
	tests_failed = 0;
	test_config();
	run_on_one_cpu(test_insert_hit_miss);
	run_on_one_cpu(test_colliding_hashes);
	run_on_one_cpu(test_replace_same_key);
	run_on_one_cpu(test_insert_race);
	run_on_one_cpu(test_epoch_wraparound);
	run_on_one_cpu(test_reordering_record);
	run_on_one_cpu(test_close_of_chain_neighbours);
	run_on_one_cpu(test_rebind_shadows_port);
	run_on_one_cpu(test_device_events);
	run_on_one_cpu(test_netns_exit);
	run_on_one_cpu(test_eviction);
	run_on_one_cpu(test_tx_template);
	run_on_one_cpu(test_full_bucket_overflows);
	run_on_one_cpu(test_overflow_filter);
	run_on_one_cpu(test_overflow_count_saturates);
	run_on_one_cpu(test_tag_of_zero_hash_bits);
	/* These spread work over every CPU themselves; none may go offline meanwhile. */
	cpus_read_lock();
	test_sock_close();
	test_insert_on_the_lookups_cpu();
	test_flush();
	test_stats_per_table();
	test_concurrent_readers();
	cpus_read_unlock();
	pr_info("fpmap selftest: %d passed, %d failed\n", tests_passed, tests_failed);
	return tests_failed;
}
