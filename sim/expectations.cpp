#include "expectations.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <sstream>

namespace econsim::sim {

namespace {

class LineReader {
public:
	LineReader(const std::string &file, int line) : file_(file), line_(line) {}

	// One line is one JSON object. yaml-cpp reads it (JSON is YAML); requiring the leading '{'
	// keeps out YAML that is not JSON-shaped, such as a bare word.
	Expectation read(const std::string &text) const
	{
		std::size_t first = text.find_first_not_of(" \t\r");
		if (first == std::string::npos || text[first] != '{')
			fail("not a JSON object");
		YAML::Node node;
		try {
			node = YAML::Load(text);
		} catch (const YAML::Exception &e) {
			fail("not valid JSON: " + e.msg);
		}
		if (!node.IsMap())
			fail("not a JSON object");
		try {
			return read_object(node);
		} catch (const YAML::Exception &e) {
			fail(e.msg); // the reader checks shapes before it converts; this is the net under anything it missed
		}
	}

private:
	const std::string &file_;
	int line_;

	Expectation read_object(const YAML::Node &node) const
	{
		check_keys(node);
		Expectation expectation;
		expectation.line = line_;
		expectation.pkt = read_pkt(node);
		expectation.verdict = read_verdict(node);
		if (node["sock"].IsDefined())
			expectation.socks = read_socks(node, expectation.verdict);
		if (node["reason"].IsDefined())
			expectation.reason = read_word(node["reason"], "reason");
		return expectation;
	}

	[[noreturn]] void fail(const std::string &message) const { throw ExpectationError(file_, line_, message); }

	void check_keys(const YAML::Node &node) const
	{
		static const char *const known[] = {"pkt", "verdict", "sock", "reason"};
		std::vector<std::string> seen;
		for (const auto &pair : node) {
			std::string key = pair.first.Scalar();
			if (std::find(std::begin(known), std::end(known), key) == std::end(known))
				fail("unknown key \"" + key + "\" (allowed: pkt, verdict, sock, reason)");
			if (std::find(seen.begin(), seen.end(), key) != seen.end())
				fail("duplicate key \"" + key + "\"");
			seen.push_back(key);
		}
		for (const char *key : {"pkt", "verdict"})
			if (!node[key].IsDefined())
				fail(std::string("missing key \"") + key + "\"");
	}

	std::uint64_t read_pkt(const YAML::Node &node) const
	{
		const YAML::Node &pkt = node["pkt"];
		std::string text = pkt.IsScalar() ? pkt.Scalar() : "";
		std::uint64_t value = 0;
		auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
		// Tag "!" marks a quoted scalar: "17" is a string in JSON, not a frame number.
		if (!pkt.IsScalar() || pkt.Tag() == "!" || error != std::errc() || end != text.data() + text.size() || value == 0)
			fail("\"pkt\" must be a frame number from 1, got " + (pkt.IsScalar() ? text : std::string("a non-number")));
		return value;
	}

	VerdictKind read_verdict(const YAML::Node &node) const
	{
		std::string text = read_word(node["verdict"], "verdict");
		auto kind = parse_verdict_kind(text);
		if (!kind)
			fail("\"verdict\": \"" + text + "\" is not deliver, drop, transmit, ignore or held");
		return *kind;
	}

	std::vector<std::string> read_socks(const YAML::Node &node, VerdictKind verdict) const
	{
		if (verdict != VerdictKind::deliver)
			fail("\"sock\" goes with \"deliver\" only");
		const YAML::Node &sock = node["sock"];
		std::vector<std::string> socks;
		if (sock.IsSequence()) {
			for (const auto &item : sock)
				socks.push_back(read_word(item, "sock"));
			if (socks.empty())
				fail("\"sock\": an empty list is met by nothing; leave \"sock\" out to accept any socket");
		} else {
			socks.push_back(read_word(sock, "sock"));
		}
		return socks;
	}

	std::string read_word(const YAML::Node &value, const char *key) const
	{
		if (!value.IsScalar() || value.Scalar().empty())
			fail(std::string("\"") + key + "\" must be a non-empty string");
		return value.Scalar();
	}
};

} // namespace

bool Expectation::met_by(const Verdict &v) const
{
	if (v.verdict != verdict)
		return false;
	if (!socks.empty() && (!v.sock || std::find(socks.begin(), socks.end(), *v.sock) == socks.end()))
		return false;
	return !reason || (v.reason && *v.reason == *reason);
}

Expectations::Expectations(std::string file, std::vector<Expectation> sorted_by_pkt)
	: file_(std::move(file)), by_pkt_(std::move(sorted_by_pkt))
{
}

const Expectation *Expectations::find(std::uint64_t pkt) const
{
	auto it = std::lower_bound(by_pkt_.begin(), by_pkt_.end(), pkt,
				   [](const Expectation &e, std::uint64_t p) { return e.pkt < p; });
	return it != by_pkt_.end() && it->pkt == pkt ? &*it : nullptr;
}

Expectations parse_expectations(const std::string &text, const std::string &file)
{
	std::vector<Expectation> expectations;
	std::map<std::uint64_t, int> line_of_pkt;
	std::istringstream lines(text);
	int line = 0;
	for (std::string content; std::getline(lines, content);) {
		++line;
		if (content.find_first_not_of(" \t\r") == std::string::npos)
			continue; // a blank line says nothing
		Expectation expectation = LineReader(file, line).read(content);
		auto [it, added] = line_of_pkt.emplace(expectation.pkt, line);
		if (!added)
			throw ExpectationError(file, line, "frame " + std::to_string(expectation.pkt) +
								   " already has an expectation at line " + std::to_string(it->second));
		expectations.push_back(std::move(expectation));
	}
	std::sort(expectations.begin(), expectations.end(), [](const Expectation &a, const Expectation &b) { return a.pkt < b.pkt; });
	return Expectations(file, std::move(expectations));
}

Expectations load_expectations(const std::string &path)
{
	auto text = read_input_file(path);
	if (!text)
		throw ExpectationError(path, 0, "cannot open the expectations");
	return parse_expectations(*text, path);
}

} // namespace econsim::sim
