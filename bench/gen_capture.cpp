// gen-capture: a large synthetic capture and its scenario, for bench/replay and the peak-memory
// check. The traffic is what an overlay node sees on its NIC: VXLAN-encapsulated UDP from remote
// containers behind a few VTEPs to four local containers on two VNIs (two tenants that reuse the
// same container addresses), each container with eight bound UDP sockets, plus the containers'
// replies. Flows are picked uniformly at random frame by frame, so after the first frame of each
// flow a fast path gets hits; 2% of flows go to a port nobody bound (dropped every time); one
// socket closes halfway and a new one binds its port 100 us later.
//
// usage: gen-capture [--frames N] [--flows F] [--seed S] OUTDIR
// writes OUTDIR/trace.pcap (classic pcap, Ethernet, microsecond timestamps, one frame per
// microsecond) and OUTDIR/scenario.yaml. The same arguments always give the same bytes.
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::uint32_t kFirstSecond = 1795700000; // the capture's clock (CLOCK_REALTIME seconds)
constexpr int kContainersPerVni = 2;
constexpr int kSocketsPerContainer = 8;
constexpr std::uint16_t kFirstServerPort = 5000;
constexpr std::uint16_t kUnboundPort = 6000;
constexpr int kClientsPerVni = 64;
constexpr int kVteps = 4;
constexpr std::size_t kPayload = 64; // bytes of inner UDP payload, as in overlay-cost-notes.md
constexpr std::uint16_t kVxlanPort = 4789;
constexpr std::uint32_t kVnis[2] = {42, 43};

using Mac = std::array<std::uint8_t, 6>;

// splitmix64: a small, good, reproducible generator.
struct Rng {
	std::uint64_t state;
	std::uint64_t next()
	{
		std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		return z ^ (z >> 31);
	}
	std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
};

constexpr std::uint32_t ipv4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return a << 24 | b << 16 | c << 8 | d;
}

constexpr std::uint32_t kNicIp = ipv4(192, 168, 0, 2);
constexpr Mac kNicMac{0x02, 0, 0, 0, 0, 0x02};

std::uint32_t vtep_ip(int vtep)
{
	return ipv4(192, 168, 0, 10 + vtep);
}
Mac vtep_mac(int vtep)
{
	return {0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(0x10 + vtep)};
}

// Container c (0, 1) on VNI index v: tenants reuse addresses, so c1 and c3 are both 10.233.1.2.
std::uint32_t container_ip(int c)
{
	return ipv4(10, 233, 1, 2 + c);
}
Mac container_mac(int v, int c)
{
	return {0x02, static_cast<std::uint8_t>(0x2a + v), 0x0a, 0xe9, 0x01, static_cast<std::uint8_t>(2 + c)};
}
std::string container_name(int v, int c)
{
	return "c" + std::to_string(1 + v * kContainersPerVni + c);
}

std::uint32_t client_ip(int client)
{
	return ipv4(10, 233, 2, 1 + client);
}
Mac client_mac(int v, int client)
{
	return {0x02, static_cast<std::uint8_t>(0x2a + v), 0x0a, 0xe9, 0x02, static_cast<std::uint8_t>(1 + client)};
}

struct Flow {
	int vni_index;
	int client;
	int container;
	std::uint16_t sport;          // the client's
	std::uint16_t dport;          // the container's
	std::uint16_t rx_outer_sport; // what the client's VTEP picked for it
	std::uint16_t tx_outer_sport; // what this host picks for the reply
	bool seen = false;
};

// udp_flow_src_port's shape: a hash of the inner flow into the local port range 32768-60999.
std::uint16_t outer_source_port(std::uint32_t a, std::uint32_t b, std::uint16_t sp, std::uint16_t dp,
				std::uint32_t salt)
{
	std::uint64_t h = (std::uint64_t{a} << 32 | b) * 0x9E3779B97F4A7C15ull;
	h ^= (std::uint64_t{sp} << 16 | dp | std::uint64_t{salt} << 32) * 0xC2B2AE3D27D4EB4Full;
	h ^= h >> 29;
	return static_cast<std::uint16_t>(32768 + (h >> 32) % (60999 - 32768 + 1));
}

std::vector<Flow> make_flows(std::uint32_t count)
{
	std::vector<Flow> flows;
	flows.reserve(count);
	for (std::uint32_t f = 0; f < count; f++) {
		Flow flow{};
		flow.vni_index = static_cast<int>(f % 2);
		flow.client = static_cast<int>((f / 2) % kClientsPerVni);
		flow.container = static_cast<int>((f / (2 * kClientsPerVni)) % kContainersPerVni);
		flow.sport = static_cast<std::uint16_t>(10000 + f / 2 % 50000);
		flow.dport = f % 50 == 49
				     ? kUnboundPort
				     : static_cast<std::uint16_t>(kFirstServerPort + (f / 7) % kSocketsPerContainer);
		std::uint32_t cip = client_ip(flow.client), sip = container_ip(flow.container);
		flow.rx_outer_sport = outer_source_port(cip, sip, flow.sport, flow.dport, 1);
		flow.tx_outer_sport = outer_source_port(sip, cip, flow.dport, flow.sport, 2);
		flows.push_back(flow);
	}
	return flows;
}

class Frame {
public:
	void put8(std::uint8_t v) { bytes_.push_back(v); }
	void put16(std::uint16_t v)
	{
		put8(static_cast<std::uint8_t>(v >> 8));
		put8(static_cast<std::uint8_t>(v));
	}
	void put32(std::uint32_t v)
	{
		put16(static_cast<std::uint16_t>(v >> 16));
		put16(static_cast<std::uint16_t>(v));
	}
	void put_mac(const Mac &m) { bytes_.insert(bytes_.end(), m.begin(), m.end()); }
	void set16(std::size_t at, std::uint16_t v)
	{
		bytes_[at] = static_cast<std::uint8_t>(v >> 8);
		bytes_[at + 1] = static_cast<std::uint8_t>(v);
	}
	std::size_t size() const { return bytes_.size(); }
	const std::vector<std::uint8_t> &bytes() const { return bytes_; }
	void clear() { bytes_.clear(); }

	// The one's-complement sum of bytes [from, to), as 16-bit big-endian words.
	std::uint32_t sum(std::size_t from, std::size_t to, std::uint32_t acc = 0) const
	{
		for (std::size_t i = from; i + 1 < to; i += 2)
			acc += std::uint32_t{bytes_[i]} << 8 | bytes_[i + 1];
		if ((to - from) % 2)
			acc += std::uint32_t{bytes_[to - 1]} << 8;
		return acc;
	}
	static std::uint16_t fold(std::uint32_t acc)
	{
		while (acc >> 16)
			acc = (acc & 0xffff) + (acc >> 16);
		return static_cast<std::uint16_t>(~acc);
	}

private:
	std::vector<std::uint8_t> bytes_;
};

struct Ends {
	Mac src_mac, dst_mac;
	std::uint32_t src_ip, dst_ip;
	std::uint16_t sport, dport;
};

void ethernet(Frame &f, const Mac &dst, const Mac &src)
{
	f.put_mac(dst);
	f.put_mac(src);
	f.put16(0x0800);
}

// An IPv4 header for `payload` bytes of UDP; returns its offset so the checksum can be set.
std::size_t ipv4_header(Frame &f, std::uint32_t src, std::uint32_t dst, std::size_t payload, std::uint16_t id, bool df)
{
	std::size_t at = f.size();
	f.put8(0x45);
	f.put8(0);
	f.put16(static_cast<std::uint16_t>(20 + payload));
	f.put16(id);
	f.put16(df ? 0x4000 : 0);
	f.put8(64);
	f.put8(17);
	f.put16(0);
	f.put32(src);
	f.put32(dst);
	f.set16(at + 10, Frame::fold(f.sum(at, at + 20)));
	return at;
}

// One VXLAN frame: outer Ethernet/IPv4/UDP (checksum 0, as Linux's VXLAN sends by default),
// VXLAN, inner Ethernet/IPv4/UDP with a correct checksum, and the payload.
void vxlan_frame(Frame &f, const Ends &outer, std::uint32_t vni, const Ends &inner, std::uint16_t outer_id,
		 std::uint16_t inner_id)
{
	const std::size_t inner_udp_len = 8 + kPayload;
	const std::size_t inner_len = 14 + 20 + inner_udp_len;
	const std::size_t outer_udp_len = 8 + 8 + inner_len;
	f.clear();
	ethernet(f, outer.dst_mac, outer.src_mac);
	ipv4_header(f, outer.src_ip, outer.dst_ip, outer_udp_len, outer_id, false);
	f.put16(outer.sport);
	f.put16(outer.dport);
	f.put16(static_cast<std::uint16_t>(outer_udp_len));
	f.put16(0);
	f.put32(0x08000000);
	f.put32(vni << 8);
	ethernet(f, inner.dst_mac, inner.src_mac);
	ipv4_header(f, inner.src_ip, inner.dst_ip, inner_udp_len, inner_id, true);
	std::size_t udp = f.size();
	f.put16(inner.sport);
	f.put16(inner.dport);
	f.put16(static_cast<std::uint16_t>(inner_udp_len));
	f.put16(0);
	for (std::size_t i = 0; i < kPayload; i++)
		f.put8(static_cast<std::uint8_t>('a' + i % 26));
	std::uint32_t pseudo = (inner.src_ip >> 16) + (inner.src_ip & 0xffff) + (inner.dst_ip >> 16) +
			       (inner.dst_ip & 0xffff) + 17 + static_cast<std::uint32_t>(inner_udp_len);
	std::uint16_t sum = Frame::fold(f.sum(udp, f.size(), pseudo));
	f.set16(udp + 6, sum ? sum : 0xffff);
}

class PcapWriter {
public:
	explicit PcapWriter(const std::string &path) : file_(std::fopen(path.c_str(), "wb")), path_(path)
	{
		if (!file_)
			fail("cannot create");
		std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
		const std::uint32_t header[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1}; // LINKTYPE_ETHERNET
		write(header, sizeof(header));
	}
	~PcapWriter()
	{
		if (file_ && std::fclose(file_) != 0)
			fail("cannot finish");
	}

	void frame(std::uint64_t micros, const Frame &f)
	{
		const std::uint32_t record[4] = {static_cast<std::uint32_t>(kFirstSecond + micros / 1000000),
						 static_cast<std::uint32_t>(micros % 1000000),
						 static_cast<std::uint32_t>(f.size()),
						 static_cast<std::uint32_t>(f.size())};
		write(record, sizeof(record));
		write(f.bytes().data(), f.size());
	}

private:
	void write(const void *data, std::size_t n)
	{
		if (std::fwrite(data, 1, n, file_) != n)
			fail("cannot write");
	}
	[[noreturn]] void fail(const char *what)
	{
		std::fprintf(stderr, "gen-capture: %s %s: %s\n", what, path_.c_str(), std::strerror(errno));
		std::exit(2);
	}

	std::FILE *file_;
	std::string path_;
};

// Microseconds from the first frame (negative: before it) as the scenario's decimal seconds.
std::string time_text(std::int64_t micros)
{
	std::int64_t total = std::int64_t{kFirstSecond} * 1000000 + micros;
	char text[32];
	std::snprintf(text, sizeof(text), "%lld.%06lld", static_cast<long long>(total / 1000000),
		      static_cast<long long>(total % 1000000));
	return text;
}

std::string mac_text(const Mac &m)
{
	char text[18];
	std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return text;
}

std::string socket_name(int v, int c, int port_index, char generation)
{
	return "s-" + container_name(v, c) + "-" + std::to_string(kFirstServerPort + port_index) + generation;
}

void write_scenario(const std::string &path, std::uint64_t frames, std::uint32_t flows, std::uint64_t seed)
{
	std::FILE *out = std::fopen(path.c_str(), "w");
	if (!out) {
		std::fprintf(stderr, "gen-capture: cannot create %s: %s\n", path.c_str(), std::strerror(errno));
		std::exit(2);
	}
	std::fprintf(out, "# Written by bench/gen-capture --frames %llu --flows %u --seed %llu: do not edit.\n",
		     static_cast<unsigned long long>(frames), flows, static_cast<unsigned long long>(seed));
	std::fprintf(out,
		     "version: 1\nhost:\n  name: node-b\n  cpus: 2\n  rss: l4\n"
		     "  nic: {name: eth0, mac: \"%s\", ip: 192.168.0.2/24}\n  vxlan:\n",
		     mac_text(kNicMac).c_str());
	for (int v = 0; v < 2; v++)
		std::fprintf(out, "    - {name: vxlan%u, vni: %u, port: %u, bridge: br%u}\n", kVnis[v], kVnis[v],
			     kVxlanPort, kVnis[v]);
	std::fprintf(out, "  bridges:\n");
	for (int v = 0; v < 2; v++)
		std::fprintf(out, "    - {name: br%u}\n", kVnis[v]);
	std::fprintf(out, "  containers:\n");
	for (int v = 0; v < 2; v++)
		for (int c = 0; c < kContainersPerVni; c++)
			std::fprintf(out,
				     "    - {name: %s, bridge: br%u, veth: veth-%s, mac: \"%s\", ip: 10.233.1.%d/16}\n",
				     container_name(v, c).c_str(), kVnis[v], container_name(v, c).c_str(),
				     mac_text(container_mac(v, c)).c_str(), 2 + c);
	std::fprintf(out, "fastpath:\n  mode: fixed\nevents:\n");
	auto bind = [&](std::int64_t at, int v, int c, int p, char generation) {
		std::string name = socket_name(v, c, p, generation);
		std::fprintf(out, "  - {t: %s, op: socket, sock: \"%s\", ns: %s, proto: udp}\n", time_text(at).c_str(),
			     name.c_str(), container_name(v, c).c_str());
		std::fprintf(
			out,
			"  - {t: %s, op: bind, sock: \"%s\", addr: \"0.0.0.0:%d\", reuseaddr: false, reuseport: false}\n",
			time_text(at).c_str(), name.c_str(), kFirstServerPort + p);
	};
	for (int v = 0; v < 2; v++)
		for (int c = 0; c < kContainersPerVni; c++)
			for (int p = 0; p < kSocketsPerContainer; p++)
				bind(-10000, v, c, p, 'a');
	// Halfway, c1's socket on port 5003 closes and another takes the port 100 us later.
	std::int64_t half = static_cast<std::int64_t>(frames / 2);
	std::fprintf(out, "  - {t: %s, op: close, sock: \"%s\"}\n", time_text(half).c_str(),
		     socket_name(0, 0, 3, 'a').c_str());
	bind(half + 100, 0, 0, 3, 'b');
	if (std::fclose(out) != 0) {
		std::fprintf(stderr, "gen-capture: cannot write %s\n", path.c_str());
		std::exit(2);
	}
}

[[noreturn]] void usage(const std::string &problem)
{
	std::fprintf(stderr, "gen-capture: %s\nusage: gen-capture [--frames N] [--flows F] [--seed S] OUTDIR\n",
		     problem.c_str());
	std::exit(2);
}

std::uint64_t number(const char *text, const char *flag)
{
	char *end = nullptr;
	unsigned long long v = std::strtoull(text, &end, 10);
	if (!*text || *end || v == 0)
		usage(std::string(flag) + " needs a positive number, not '" + text + "'");
	return v;
}

} // namespace

int main(int argc, char **argv)
{
	std::uint64_t frames = 1000000, seed = 1;
	std::uint64_t flows = 10000;
	std::string outdir;
	for (int i = 1; i < argc; i++) {
		std::string_view a = argv[i];
		if ((a == "--frames" || a == "--flows" || a == "--seed") && i + 1 < argc) {
			std::uint64_t v = number(argv[i + 1], argv[i]);
			(a == "--frames" ? frames : a == "--flows" ? flows : seed) = v;
			i++;
		} else if (!a.starts_with("-") && outdir.empty()) {
			outdir = a;
		} else {
			usage("unknown or incomplete argument " + std::string(a));
		}
	}
	if (outdir.empty())
		usage("an output directory is needed");
	if (flows > 100000)
		usage("at most 100000 flows (client ports run out)");

	std::vector<Flow> all = make_flows(static_cast<std::uint32_t>(flows));
	Rng rng{seed};
	PcapWriter pcap(outdir + "/trace.pcap");
	Frame frame;
	std::uint16_t vtep_ids[kVteps] = {}, host_id = 0;
	std::uint16_t inner_id = 0;
	for (std::uint64_t n = 0; n < frames; n++) {
		Flow &flow = all[rng.below(static_cast<std::uint32_t>(flows))];
		const int v = flow.vni_index;
		const int vtep = flow.client % kVteps;
		const Ends client{client_mac(v, flow.client),
				  container_mac(v, flow.container),
				  client_ip(flow.client),
				  container_ip(flow.container),
				  flow.sport,
				  flow.dport};
		// A container answers one frame in ten of a flow it has heard from and has a socket for.
		const bool reply = flow.seen && flow.dport != kUnboundPort && rng.below(10) == 0;
		if (reply) {
			const Ends outer{kNicMac,       vtep_mac(vtep),      kNicIp,
					 vtep_ip(vtep), flow.tx_outer_sport, kVxlanPort};
			const Ends inner{client.dst_mac, client.src_mac, client.dst_ip,
					 client.src_ip,  flow.dport,     flow.sport};
			vxlan_frame(frame, outer, kVnis[v], inner, host_id++, inner_id++);
		} else {
			const Ends outer{vtep_mac(vtep),      kNicMac,   vtep_ip(vtep), kNicIp,
					 flow.rx_outer_sport, kVxlanPort};
			vxlan_frame(frame, outer, kVnis[v], client, vtep_ids[vtep]++, inner_id++);
			flow.seen = true;
		}
		pcap.frame(n, frame);
	}
	write_scenario(outdir + "/scenario.yaml", frames, static_cast<std::uint32_t>(flows), seed);
	return 0;
}
