// Writes V.jsonl: one JSON object per line, keys in the order of scenario-format.md (pkt, ts, dir,
// cpu, vni, flow, path, verdict, sock, reason; then latency_ns, an extension of --timing described in
// docs/timing.md), absent optionals left out, no spaces, "\n" endings.
#pragma once

#include <cstdint>
#include <fstream>
#include <ostream>
#include <string>
#include <string_view>

#include "verdict.h"

namespace econsim::sim {

// One line, without the newline.
std::string format_verdict(const Verdict &verdict);

// Seconds with the fewest decimals that give back the exact nanoseconds: 1764150000.1,
// 1764150000.000123, 1764150000.0.
std::string format_timestamp(std::int64_t ns);

// Where a frame ended, in one short phrase for reports: "deliver s1 [fast]", "drop (no_socket) [slow]".
std::string describe_end(const Verdict &verdict);

class VerdictWriter {
public:
	explicit VerdictWriter(std::ostream &out, std::string name = "verdicts");
	// Opens (truncates) path; throws std::runtime_error naming it when it cannot.
	explicit VerdictWriter(const std::string &path);

	// Throws std::runtime_error naming the output when the write fails (disk full, closed pipe).
	void write(const Verdict &verdict);
	void flush();

private:
	std::ofstream file_;
	std::ostream *out_;
	std::string name_;
};

} // namespace econsim::sim
