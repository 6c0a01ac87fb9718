// A bridge's forwarding database: which port a MAC address was last seen on.
// Models net/bridge/br_fdb.c for one VLAN (vid 0, the scenario has no VLANs).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>

#include "model/types.h"

namespace econsim::model {

class BridgeFdb {
public:
	// BR_DEFAULT_AGEING_TIME (include/linux/if_bridge.h: 300 * HZ).
	static constexpr double default_ageing_seconds = 300.0;

	struct Entry {
		std::string port;
		bool is_static = false; // BR_FDB_STATIC: never ages out, survives the port going down
		double updated = 0;     // seconds, the scenario's clock
	};

	// br_fdb.c: br_fdb_update. A frame with source MAC `mac` came in on `port` at `now`.
	// An unknown MAC is added; a known one is refreshed and moves to `port` when it came from
	// elsewhere. The kernel moves static entries too: only BR_FDB_LOCAL and BR_FDB_STICKY entries
	// stay put, and the scenario has neither. True when that changed where frames to `mac` go (a
	// new entry, one that had expired, or a move); false when only the age was refreshed.
	bool learn(const MacAddress &mac, std::string_view port, double now);

	// br_fdb.c: br_fdb_add with NUD_NOARP ("bridge fdb add MAC dev PORT master static").
	void add_static(const MacAddress &mac, std::string_view port);
	// br_fdb.c: br_fdb_delete ("bridge fdb del MAC dev PORT master"). False if there was none.
	bool remove(const MacAddress &mac);

	// br_fdb.c: br_fdb_find_rcu, with has_expired applied at the lookup. The kernel does not check
	// the age there: br_fdb_cleanup (delayed work) removes an entry at about updated + ageing time.
	// The model removes it exactly then. The port's name is the entry's: valid until the table
	// next changes (an entry added or removed may move the others).
	std::optional<std::string_view> lookup(const MacAddress &mac, double now) const;

	// lookup and learn in one probe, for a frame whose source `mac` is known to be on `port`: true
	// (and the entry's age refreshed, as learn would) when it is, and has not expired; false, and
	// nothing changed, otherwise. A fast path that skipped the bridge asks this.
	bool refresh_if_on(const MacAddress &mac, std::string_view port, double now);

	// br_fdb.c: br_fdb_delete_by_port(br, p, 0, 0), called by br_stp_disable_port when a port stops
	// forwarding: learned entries of that port go, static ones stay.
	void forget_learned_on(std::string_view port);

	// br_fdb.c: br_fdb_cleanup, the bridge's delayed work, rescheduled for the earliest expiry: it
	// deletes each learned entry whose age reached the ageing time (fdb_delete, which notifies, so
	// a fast path hears of it). True if an entry went at or before `now`; `next_expiry` becomes
	// when the earliest learned entry left expires (unchanged if none is left).
	bool expire(double now, double &next_expiry);

	struct MacHash {
		std::size_t operator()(const MacAddress &mac) const
		{
			std::uint64_t h = mac.value() * 0x9E3779B97F4A7C15ull;
			return static_cast<std::size_t>(h ^ (h >> 29));
		}
	};
	using Entries = absl::flat_hash_map<MacAddress, Entry, MacHash>;
	// In no particular order: nothing the model answers depends on it.
	const Entries &entries() const { return entries_; }

private:
	bool has_expired(const Entry &entry, double now) const;

	// Hashed: every received frame learns its source and looks its destination up (br_fdb_update,
	// br_fdb_find_rcu hash too). A flat table: one probe, where a std::unordered_map's is three
	// dependent loads, each a cache miss once a replay's other tables have pushed the FDB out.
	Entries entries_;
	double ageing_seconds_ = default_ageing_seconds;
};

} // namespace econsim::model
