// The checked readers of YAML values (scenario_reader.h).
#include "scenario_reader.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace econsim::sim::scenario_reader {

namespace {

// Linux interface names: IFNAMSIZ is 16 with the terminating NUL.
constexpr std::size_t kMaxDeviceName = 15;

} // namespace

std::string quoted(std::string_view text)
{
	return "'" + std::string(text) + "'";
}

int line_of(const YAML::Node &node)
{
	int line = node.Mark().line;
	return line >= 0 ? line + 1 : 0;
}

template <typename T>
T FieldReader::address(const YAML::Node &map, std::string_view key, std::optional<T> (*parse)(std::string_view),
		       std::string_view form) const
{
	std::string text = scalar(map, key);
	auto value = parse(text);
	if (!value)
		fail(map[std::string(key)], quoted(key) + ": " + quoted(text) + " is not " + std::string(form));
	return *value;
}

void FieldReader::expect_keys(const YAML::Node &map, std::string_view what,
			      const std::vector<std::string_view> &required,
			      const std::vector<std::string_view> &optional) const
{
	if (!map.IsMap())
		fail(map, std::string(what) + " must be a mapping");
	std::set<std::string> seen;
	for (const auto &pair : map) {
		std::string key = pair.first.Scalar();
		bool known = std::find(required.begin(), required.end(), key) != required.end() ||
			     std::find(optional.begin(), optional.end(), key) != optional.end();
		if (!known) {
			std::string allowed;
			for (const auto *list : {&required, &optional})
				for (std::string_view k : *list)
					allowed += (allowed.empty() ? "" : ", ") + std::string(k);
			fail(pair.first, "unknown key " + quoted(key) + " in " + std::string(what) + " (allowed: " + allowed + ")");
		}
		if (!seen.insert(key).second)
			fail(pair.first, "duplicate key " + quoted(key) + " in " + std::string(what));
	}
	for (std::string_view key : required)
		if (!seen.count(std::string(key)))
			fail(map, std::string(what) + ": missing key " + quoted(key));
}

std::string FieldReader::scalar(const YAML::Node &map, std::string_view key) const
{
	YAML::Node value = map[std::string(key)];
	if (!value.IsScalar())
		fail(value.IsDefined() ? value : map, quoted(key) + " must be a single value");
	return value.Scalar();
}

std::string FieldReader::name(const YAML::Node &map, std::string_view key) const
{
	std::string text = scalar(map, key);
	bool plain = !text.empty() && std::none_of(text.begin(), text.end(), [](char c) {
		return c == '/' || c == '"' || c == '\\' || static_cast<unsigned char>(c) <= ' ';
	});
	if (!plain)
		fail(map[std::string(key)], quoted(key) + ": " + quoted(text) + " is not a name (empty, or has a space, '/', '\"' or '\\')");
	return text;
}

std::string FieldReader::device_name(const YAML::Node &map, std::string_view key) const
{
	std::string text = name(map, key);
	if (text.size() > kMaxDeviceName)
		fail(map[std::string(key)], quoted(key) + ": device name " + quoted(text) + " is longer than 15 characters (IFNAMSIZ)");
	return text;
}

std::int64_t FieldReader::integer(const YAML::Node &map, std::string_view key, std::int64_t min, std::int64_t max) const
{
	std::string text = scalar(map, key);
	std::int64_t value = 0;
	auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
	if (error != std::errc() || end != text.data() + text.size() || value < min || value > max)
		fail(map[std::string(key)], quoted(key) + ": " + quoted(text) + " is not an integer from " +
						   std::to_string(min) + " to " + std::to_string(max));
	return value;
}

bool FieldReader::boolean(const YAML::Node &map, std::string_view key) const
{
	std::string text = scalar(map, key);
	if (text != "true" && text != "false")
		fail(map[std::string(key)], quoted(key) + ": " + quoted(text) + " is not true or false");
	return text == "true";
}

MacAddress FieldReader::mac(const YAML::Node &map, std::string_view key) const
{
	return address(map, key, parse_mac, "a MAC address like \"02:42:0a:e9:01:02\"");
}

Ipv4Prefix FieldReader::prefix(const YAML::Node &map, std::string_view key) const
{
	return address(map, key, parse_ipv4_prefix, "an IPv4 address with a prefix length like 10.233.1.2/16");
}

Endpoint FieldReader::endpoint(const YAML::Node &map, std::string_view key) const
{
	return address(map, key, parse_endpoint, "an IPv4 address and port like \"10.233.1.2:5000\"");
}

Ipv4Address FieldReader::ipv4(const YAML::Node &map, std::string_view key) const
{
	return address(map, key, parse_ipv4, "an IPv4 address like 192.168.0.1");
}

} // namespace econsim::sim::scenario_reader
