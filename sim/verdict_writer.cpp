#include "verdict_writer.h"

#include <cstdio>
#include <stdexcept>

namespace econsim::sim {

namespace {

void append_json_string(std::string &out, std::string_view text)
{
	out += '"';
	for (char c : text) {
		if (c == '"' || c == '\\') {
			out += '\\';
			out += c;
		} else if (static_cast<unsigned char>(c) < 0x20) {
			char escaped[8];
			std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
			out += escaped;
		} else {
			out += c;
		}
	}
	out += '"';
}

// Appends ,"key": with the separator every field but the first needs.
void append_key(std::string &out, std::string_view key)
{
	out += out.size() > 1 ? ",\"" : "\"";
	out += key;
	out += "\":";
}

void append_field(std::string &out, std::string_view key, std::string_view text)
{
	append_key(out, key);
	append_json_string(out, text);
}

void append_number(std::string &out, std::string_view key, std::string_view number)
{
	append_key(out, key);
	out += number;
}

} // namespace

std::string format_timestamp(std::int64_t ns)
{
	std::string sign = ns < 0 ? "-" : "";
	std::uint64_t magnitude = ns < 0 ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
	char fraction[10];
	std::snprintf(fraction, sizeof fraction, "%09llu", static_cast<unsigned long long>(magnitude % 1'000'000'000));
	std::string decimals(fraction);
	while (decimals.size() > 1 && decimals.back() == '0')
		decimals.pop_back();
	return sign + std::to_string(magnitude / 1'000'000'000) + "." + decimals;
}

std::string format_verdict(const Verdict &v)
{
	std::string out = "{";
	append_number(out, "pkt", std::to_string(v.pkt));
	append_number(out, "ts", format_timestamp(v.ts_ns));
	append_field(out, "dir", to_string(v.dir));
	if (v.cpu)
		append_number(out, "cpu", std::to_string(*v.cpu));
	if (v.vni)
		append_number(out, "vni", std::to_string(*v.vni));
	if (v.flow) {
		// No character of a flow's text needs escaping (letters, digits, '.', ':', ' ', '>').
		append_key(out, "flow");
		out += '"';
		model::append_text(out, *v.flow);
		out += '"';
	}
	if (v.path)
		append_field(out, "path", to_string(*v.path));
	append_field(out, "verdict", to_string(v.verdict));
	if (v.sock)
		append_field(out, "sock", *v.sock);
	if (v.reason)
		append_field(out, "reason", *v.reason);
	if (v.latency_ns)
		append_number(out, "latency_ns", std::to_string(*v.latency_ns));
	return out + "}";
}

VerdictWriter::VerdictWriter(std::ostream &out, std::string name) : out_(&out), name_(std::move(name)) {}

VerdictWriter::VerdictWriter(const std::string &path) : file_(path, std::ios::trunc), out_(&file_), name_(path)
{
	if (!file_)
		throw std::runtime_error(path + ": cannot open for writing the verdicts");
}

void VerdictWriter::write(const Verdict &verdict)
{
	*out_ << format_verdict(verdict) << '\n';
	if (!*out_)
		throw std::runtime_error(name_ + ": writing the verdict of frame " + std::to_string(verdict.pkt) + " failed");
}

void VerdictWriter::flush()
{
	out_->flush();
	if (!*out_)
		throw std::runtime_error(name_ + ": flushing the verdicts failed");
}

std::string describe_end(const Verdict &v)
{
	std::string s(to_string(v.verdict));
	if (v.sock)
		s += " " + *v.sock;
	if (v.reason)
		s += " (" + *v.reason + ")";
	if (v.path)
		s += std::string(" [") + std::string(to_string(*v.path)) + "]";
	return s;
}

} // namespace econsim::sim
