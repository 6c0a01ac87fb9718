#include "netlink.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace econsim::snapshot {

Attrs parse_attrs(std::span<const std::uint8_t> data)
{
	Attrs out;
	std::size_t off = 0;
	while (off + sizeof(nlattr) <= data.size()) {
		nlattr a;
		std::memcpy(&a, data.data() + off, sizeof(a));
		if (a.nla_len < sizeof(nlattr) || off + a.nla_len > data.size())
			break; // a truncated attribute ends the list: the kernel never sends one
		unsigned type = a.nla_type & NLA_TYPE_MASK;
		out[type] = data.subspan(off + NLA_HDRLEN, a.nla_len - NLA_HDRLEN);
		off += NLA_ALIGN(a.nla_len);
	}
	return out;
}

std::string attr_string(const Attrs &a, unsigned type)
{
	auto it = a.find(type);
	if (it == a.end())
		return {};
	std::string s(reinterpret_cast<const char *>(it->second.data()), it->second.size());
	if (auto nul = s.find('\0'); nul != std::string::npos)
		s.resize(nul);
	return s;
}

bool has_attr(const Attrs &a, unsigned type)
{
	return a.count(type) != 0;
}

std::span<const std::uint8_t> payload_of(const nlmsghdr &h)
{
	const auto *base = reinterpret_cast<const std::uint8_t *>(&h);
	if (h.nlmsg_len < NLMSG_HDRLEN)
		return {};
	return {base + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN};
}

Netlink::Netlink(int protocol)
{
	fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	if (fd_ < 0)
		throw NetlinkError(std::string("netlink socket: ") + strerror(errno));
	int one = 1;
	// Dumps of a namespace with many devices or sockets are large; ask for whole messages.
	setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	int bufsize = 4 << 20;
	setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	sockaddr_nl local{};
	local.nl_family = AF_NETLINK;
	if (bind(fd_, reinterpret_cast<sockaddr *>(&local), sizeof(local)) != 0) {
		int e = errno;
		close(fd_);
		fd_ = -1;
		throw NetlinkError(std::string("netlink bind: ") + strerror(e));
	}
}

Netlink::Netlink(Netlink &&other) noexcept : fd_(std::exchange(other.fd_, -1)), seq_(other.seq_) {}

Netlink &Netlink::operator=(Netlink &&other) noexcept
{
	if (this != &other) {
		if (fd_ >= 0)
			close(fd_);
		fd_ = std::exchange(other.fd_, -1);
		seq_ = other.seq_;
	}
	return *this;
}

Netlink::~Netlink()
{
	if (fd_ >= 0)
		close(fd_);
}

void Netlink::join(unsigned group)
{
	if (setsockopt(fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0)
		throw NetlinkError(std::string("netlink group ") + std::to_string(group) + ": " + strerror(errno));
}

namespace {

// Calls each for every message in buf; returns true at NLMSG_DONE. Throws on NLMSG_ERROR.
bool walk(const std::uint8_t *buf, std::size_t len, std::uint32_t seq, bool check_seq,
	  const std::function<void(const nlmsghdr &)> &each)
{
	std::size_t off = 0;
	while (off + NLMSG_HDRLEN <= len) {
		nlmsghdr h;
		std::memcpy(&h, buf + off, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || off + h.nlmsg_len > len)
			break;
		// Netlink buffers are 4-byte aligned and headers are at NLMSG_ALIGN offsets.
		const auto &msg = *reinterpret_cast<const nlmsghdr *>(buf + off);
		off += NLMSG_ALIGN(h.nlmsg_len);
		if (check_seq && h.nlmsg_seq != seq)
			continue;
		if (h.nlmsg_type == NLMSG_DONE)
			return true;
		if (h.nlmsg_type == NLMSG_ERROR) {
			nlmsgerr e{};
			auto p = payload_of(msg);
			std::memcpy(&e, p.data(), std::min(p.size(), sizeof(e)));
			if (e.error == 0)
				return true; // an acknowledgement
			throw NetlinkError(strerror(-e.error));
		}
		each(msg);
	}
	return false;
}

} // namespace

void Netlink::request(std::vector<std::uint8_t> req, const std::function<void(const nlmsghdr &)> &each)
{
	nlmsghdr h;
	std::memcpy(&h, req.data(), sizeof(h));
	h.nlmsg_seq = ++seq_;
	h.nlmsg_pid = 0;
	std::memcpy(req.data(), &h, sizeof(h));
	sockaddr_nl kernel{};
	kernel.nl_family = AF_NETLINK;
	if (sendto(fd_, req.data(), req.size(), 0, reinterpret_cast<sockaddr *>(&kernel), sizeof(kernel)) < 0)
		throw NetlinkError(std::string("netlink send: ") + strerror(errno));
	bool dump = (h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	alignas(nlmsghdr) static thread_local std::uint8_t buf[1 << 16];
	for (;;) {
		ssize_t n = recv(fd_, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw NetlinkError(std::string("netlink receive: ") + strerror(errno));
		}
		if (walk(buf, static_cast<std::size_t>(n), seq_, true, each) || !dump)
			return;
	}
}

bool Netlink::receive(const std::function<void(const nlmsghdr &)> &each)
{
	alignas(nlmsghdr) static thread_local std::uint8_t buf[1 << 16];
	bool any = false;
	for (;;) {
		ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) // notifications were lost: the caller's next dump finds the gap
				throw NetlinkError("netlink notifications overflowed");
			return any;
		}
		any = true;
		walk(buf, static_cast<std::size_t>(n), 0, false, each);
	}
}

Request::Request(std::uint16_t type, std::uint16_t flags)
{
	nlmsghdr h{};
	h.nlmsg_type = type;
	h.nlmsg_flags = static_cast<std::uint16_t>(flags | NLM_F_REQUEST);
	append(&h, sizeof(h));
}

void Request::append(const void *data, std::size_t size)
{
	const auto *p = static_cast<const std::uint8_t *>(data);
	buf_.insert(buf_.end(), p, p + size);
	buf_.resize(NLMSG_ALIGN(buf_.size()), 0);
}

void Request::attr(std::uint16_t type, const void *data, std::size_t size)
{
	nlattr a{};
	a.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + size);
	a.nla_type = type;
	append(&a, sizeof(a)); // NLA_HDRLEN: already aligned
	append(data, size);
}

std::vector<std::uint8_t> Request::done()
{
	nlmsghdr h;
	std::memcpy(&h, buf_.data(), sizeof(h));
	h.nlmsg_len = static_cast<std::uint32_t>(buf_.size());
	std::memcpy(buf_.data(), &h, sizeof(h));
	return buf_;
}

} // namespace econsim::snapshot
