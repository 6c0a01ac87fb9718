/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RCU-safe hlist operations: writers publish with rcu_assign_pointer, readers
 * follow next pointers with rcu_dereference, a deleted node keeps its next
 * pointer so a reader standing on it can go on.
 */
#ifndef COMPAT_LINUX_RCULIST_H
#define COMPAT_LINUX_RCULIST_H

#include <linux/list.h>
#include <linux/rcupdate.h>

static inline void hlist_add_head_rcu(struct hlist_node *n, struct hlist_head *h)
{
	struct hlist_node *first = h->first;

	n->next = first;
	n->pprev = &h->first;
	rcu_assign_pointer(h->first, n);
	if (first)
		first->pprev = &n->next;
}

static inline void hlist_del_init_rcu(struct hlist_node *n)
{
	if (!hlist_unhashed(n)) {
		__hlist_del(n);
		WRITE_ONCE(n->pprev, NULL);
	}
}

#define hlist_first_rcu(head) (*((struct hlist_node **)(&(head)->first)))
#define hlist_next_rcu(node) (*((struct hlist_node **)(&(node)->next)))

#define hlist_for_each_entry_rcu(pos, head, member) \
	for (pos = hlist_entry_safe(rcu_dereference(hlist_first_rcu(head)), \
				    __typeof__(*(pos)), member); \
	     pos; \
	     pos = hlist_entry_safe(rcu_dereference(hlist_next_rcu(&(pos)->member)), \
				    __typeof__(*(pos)), member))

#endif
