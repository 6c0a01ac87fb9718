// E.jsonl: where frames really ended (scenario-format.md, "Expectations"). One JSON object per line:
//   {"pkt":17,"verdict":"deliver","sock":"s1"}   {"pkt":19,"verdict":"deliver","sock":["r1","r2"]}
//   {"pkt":18,"verdict":"drop","reason":"no_socket"}   {"pkt":20,"verdict":"held"}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "input_file.h"
#include "verdict.h"

namespace econsim::sim {

class ExpectationError : public InputError {
public:
	using InputError::InputError;
};

struct Expectation {
	std::uint64_t pkt = 0;
	VerdictKind verdict = VerdictKind::deliver;
	std::vector<std::string> socks;    // deliver only; any one of them meets it; empty: any socket
	std::optional<std::string> reason; // when given, the verdict's reason must be the same word
	int line = 0;

	bool met_by(const Verdict &v) const;
};

class Expectations {
public:
	Expectations() = default;
	Expectations(std::string file, std::vector<Expectation> sorted_by_pkt);

	// The expectation for frame pkt, or nullptr: a frame without one is not checked.
	const Expectation *find(std::uint64_t pkt) const;
	const std::vector<Expectation> &all() const { return by_pkt_; }
	const std::string &file() const { return file_; }

private:
	std::string file_;
	std::vector<Expectation> by_pkt_;
};

// Throws ExpectationError naming the file and line. Blank lines are allowed; a frame may have one
// expectation only.
Expectations load_expectations(const std::string &path);
Expectations parse_expectations(const std::string &text, const std::string &file);

} // namespace econsim::sim
