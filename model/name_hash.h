// Hashing names (namespaces, devices) for unordered maps that are searched with a string_view:
// std::hash<std::string_view> for both std::string and std::string_view keys, so a lookup by a
// name the caller holds builds no std::string.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace econsim::model {

struct NameHash {
	using is_transparent = void;
	std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

} // namespace econsim::model
