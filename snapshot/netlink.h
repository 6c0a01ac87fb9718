// A netlink socket and attribute reading, as `ip` and `ss` use them: raw sockets, no library.
// A netlink socket belongs to the network namespace its creator was in when it was made, so the
// snapshot opens one per namespace (inside setns) and then reads every namespace from one thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

struct nlmsghdr;

namespace econsim::snapshot {

// The attributes of one level, by type (nested ones are read again with parse_attrs).
using Attrs = std::map<unsigned, std::span<const std::uint8_t>>;

Attrs parse_attrs(std::span<const std::uint8_t> data);

template <typename T> T attr_as(const Attrs &a, unsigned type, T fallback = T{})
{
	auto it = a.find(type);
	if (it == a.end() || it->second.size() < sizeof(T))
		return fallback;
	T value;
	std::memcpy(&value, it->second.data(), sizeof(T));
	return value;
}
std::string attr_string(const Attrs &a, unsigned type);
bool has_attr(const Attrs &a, unsigned type);

class NetlinkError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

class Netlink {
public:
	Netlink() = default;
	// Opens a socket of this protocol in the calling thread's network namespace. Throws NetlinkError.
	explicit Netlink(int protocol);
	Netlink(Netlink &&other) noexcept;
	Netlink &operator=(Netlink &&other) noexcept;
	Netlink(const Netlink &) = delete;
	Netlink &operator=(const Netlink &) = delete;
	~Netlink();

	int fd() const { return fd_; }
	bool valid() const { return fd_ >= 0; }

	// Sends the request (its nlmsghdr first; flags, sequence and pid are filled here) and calls
	// each for every message of the answer until NLMSG_DONE. Throws NetlinkError on an error answer.
	void request(std::vector<std::uint8_t> request, const std::function<void(const nlmsghdr &)> &each);

	// Joins a multicast group (sock_diag's destroy groups); receive() then reads what arrives.
	void join(unsigned group);
	// Reads the messages waiting without blocking; returns false when there were none.
	bool receive(const std::function<void(const nlmsghdr &)> &each);

private:
	int fd_ = -1;
	std::uint32_t seq_ = 0;
};

// A request buffer: the header, a fixed payload, then attributes.
class Request {
public:
	Request(std::uint16_t type, std::uint16_t flags);
	template <typename T> void payload(const T &value) { append(&value, sizeof(value)); }
	void attr(std::uint16_t type, const void *data, std::size_t size);
	std::vector<std::uint8_t> done();

private:
	void append(const void *data, std::size_t size);
	std::vector<std::uint8_t> buf_;
};

// The payload of a message, after its header.
std::span<const std::uint8_t> payload_of(const nlmsghdr &h);

} // namespace econsim::snapshot
