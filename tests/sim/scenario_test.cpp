#include "scenario.h"

#include <gtest/gtest.h>

#include "test_frames.h"

namespace econsim::sim {
namespace {

// Lines 1-16; events appended by a test start at line 17.
const std::string kHost = R"(version: 1
host:
  name: node-b
  cpus: 2
  rss: l4
  nic: {name: eth0, mac: "02:00:00:00:00:02", ip: 192.168.0.2/24}
  vxlan:
    - {name: vxlan42, vni: 42, port: 4789, bridge: br42}
  bridges:
    - {name: br42}
  containers:
    - {name: c1, bridge: br42, veth: veth-c1, mac: "02:42:0a:e9:01:02", ip: 10.233.1.2/16}
    - {name: c2, bridge: br42, veth: veth-c2, mac: "02:42:0a:e9:01:03", ip: 10.233.1.3/16}
fastpath:
  mode: fixed
events:
)";
constexpr int kFirstEventLine = 17;

std::string with_events(const std::vector<std::string> &events)
{
	std::string text = kHost;
	for (const std::string &event : events)
		text += "  - " + event + "\n";
	return text;
}

// Parses text expecting an error at line that mentions every one of needles.
void expect_error(const std::string &text, int line, std::initializer_list<std::string> needles)
{
	try {
		parse_scenario(text, "S.yaml");
		ADD_FAILURE() << "no error; expected one at line " << line;
	} catch (const ScenarioError &e) {
		std::string message = e.what();
		EXPECT_EQ(e.file(), "S.yaml");
		EXPECT_EQ(e.line(), line) << message;
		std::string where = line > 0 ? "S.yaml:" + std::to_string(line) + ": " : "S.yaml: ";
		EXPECT_EQ(message.rfind(where, 0), 0u) << message;
		for (const std::string &needle : needles)
			EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' not in: " << message;
	}
}

TEST(Scenario, ReadsTheHostAndSortsEventsStablyByTime)
{
	Scenario s = parse_scenario(with_events({
					    "{t: 1764150000.000100, op: socket, sock: s1, ns: c1, proto: udp}",
					    "{t: 1764150000.000200, op: bind, sock: s1, addr: \"0.0.0.0:5000\", reuseaddr: true}",
					    "{t: 1764150001.500000, op: connect, sock: s1, peer: \"10.233.2.2:4000\"}",
					    "{t: 1764150000.000200, op: socket, sock: t1, ns: host, proto: tcp}",
					    "{t: 1764150000.000300, op: listen, sock: t1, backlog: 128}",
					    "{t: 1764150002, op: close, sock: s1}",
					    "{t: 1764150003.0, op: link, dev: veth-c1, up: false}",
					    "{t: 1764150004.000000001, op: flush}",
				    }),
				    "S.yaml");
	EXPECT_EQ(s.host.name, "node-b");
	EXPECT_EQ(s.host.cpus, 2);
	EXPECT_EQ(s.host.rss, RssMode::l4);
	EXPECT_EQ(s.host.nic.name, "eth0");
	EXPECT_EQ(to_string(s.host.nic.mac), "02:00:00:00:00:02");
	EXPECT_EQ(to_string(s.host.nic.ip), "192.168.0.2/24");
	EXPECT_EQ(s.host.nic.mtu, 1500u);
	ASSERT_EQ(s.host.vxlan.size(), 1u);
	EXPECT_EQ(s.host.vxlan[0].vni, 42u);
	EXPECT_EQ(s.host.vxlan[0].port, 4789);
	EXPECT_EQ(s.host.vxlan[0].bridge, "br42");
	ASSERT_EQ(s.host.containers.size(), 2u);
	EXPECT_EQ(s.host.containers[0].veth, "veth-c1");
	EXPECT_EQ(s.host.containers[0].line, 12);
	EXPECT_EQ(s.mode, FastpathMode::fixed);

	std::vector<std::pair<EventOp, int>> order;
	for (const Event &e : s.events)
		order.emplace_back(e.op, e.line);
	int l = kFirstEventLine;
	EXPECT_EQ(order, (std::vector<std::pair<EventOp, int>>{{EventOp::socket, l}, {EventOp::bind, l + 1}, {EventOp::socket, l + 3},
							      {EventOp::listen, l + 4}, {EventOp::connect, l + 2}, {EventOp::close, l + 5},
							      {EventOp::link, l + 6}, {EventOp::flush, l + 7}}));
	EXPECT_EQ(s.events[0].t_ns, 1764150000'000100000);
	EXPECT_EQ(s.events[7].t_ns, 1764150004'000000001);
	EXPECT_TRUE(s.events[1].reuseaddr);
	EXPECT_FALSE(s.events[1].reuseport);
	EXPECT_EQ(to_string(s.events[1].addr), "0.0.0.0:5000");
	EXPECT_EQ(s.events[2].ns, "host");
	EXPECT_EQ(s.events[2].proto, SocketProto::tcp);
	EXPECT_EQ(s.events[3].backlog, 128);
	EXPECT_EQ(to_string(s.events[4].peer), "10.233.2.2:4000");
	EXPECT_FALSE(s.events[6].up);

	ParserConfig config = parser_config(s);
	EXPECT_EQ(config.vxlan_ports, std::vector<std::uint16_t>{4789});
	EXPECT_EQ(config.mtu, 1500u);
}

TEST(Scenario, JsonIsYamlToo)
{
	const char *json = R"({
  "version": 1,
  "host": {
    "name": "node-b", "cpus": 1, "rss": "none",
    "nic": {"name": "eth0", "mac": "02:00:00:00:00:02", "ip": "192.168.0.2/24", "mtu": 9000},
    "vxlan": [{"name": "flannel.1", "vni": 1, "port": 8472, "bridge": "cni0"}],
    "bridges": [{"name": "cni0", "fdb": [{"mac": "02:42:0a:e9:02:02", "port": "flannel.1", "dst": "192.168.0.3"}]}],
    "containers": [{"name": "c1", "bridge": "cni0", "veth": "veth-c1", "mac": "02:42:0a:e9:01:02", "ip": "10.244.1.2/24"}]
  },
  "events": [
    {"t": 1764150000.5, "op": "socket", "sock": "s1", "ns": "c1", "proto": "udp"},
    {"t":1764150000.6,"op":"bind","sock":"s1","addr":"0.0.0.0:53","reuseport":false}
  ]
})";
	Scenario s = parse_scenario(json, "S.json");
	EXPECT_EQ(s.host.rss, RssMode::none);
	EXPECT_EQ(s.host.nic.mtu, 9000u);
	EXPECT_FALSE(s.mode);
	ASSERT_EQ(s.host.bridges[0].fdb.size(), 1u);
	EXPECT_EQ(to_string(*s.host.bridges[0].fdb[0].dst), "192.168.0.3");
	ASSERT_EQ(s.events.size(), 2u);
	EXPECT_EQ(s.events[1].t_ns, 1764150000'600000000);
	EXPECT_EQ(s.events[1].line, 12);
	EXPECT_EQ(parser_config(s).vxlan_ports, std::vector<std::uint16_t>{8472});
}

TEST(Scenario, LoadsFromAFileAndNamesIt)
{
	test::TempDir dir;
	std::string path = dir.write("s.yaml", with_events({"{t: 1, op: flush}"}));
	EXPECT_EQ(load_scenario(path).events.size(), 1u);
	try {
		load_scenario(dir.path().string() + "/missing.yaml");
		ADD_FAILURE();
	} catch (const ScenarioError &e) {
		EXPECT_NE(std::string(e.what()).find("missing.yaml"), std::string::npos);
	}
}

TEST(Scenario, AnEmptyListMayBeWrittenAsAKeyAlone)
{
	EXPECT_TRUE(parse_scenario(kHost, "S.yaml").events.empty()); // kHost ends in "events:"
}

TEST(Scenario, ExtensionOps)
{
	Scenario s = parse_scenario(with_events({
					    "{t: 1, op: socket, sock: s1, ns: c2, proto: udp}",
					    "{t: 2, op: fdb, bridge: br42, mac: \"02:42:0a:e9:01:02\", port: veth-c2}",
					    "{t: 3, op: fdb, bridge: br42, mac: \"02:42:0a:e9:02:02\", port: vxlan42, dst: 192.168.0.1}",
					    "{t: 4, op: fdb_del, bridge: br42, mac: \"02:42:0a:e9:01:02\"}",
					    "{t: 5, op: vni, dev: vxlan42, vni: 43}",
					    "{t: 6, op: netns_del, ns: c2}",
				    }),
				    "S.yaml");
	ASSERT_EQ(s.events.size(), 6u);
	EXPECT_EQ(s.events[1].port, "veth-c2");
	EXPECT_EQ(to_string(*s.events[2].dst), "192.168.0.1");
	EXPECT_EQ(s.events[3].op, EventOp::fdb_del);
	EXPECT_EQ(s.events[4].vni, 43u);
	EXPECT_EQ(s.events[5].ns, "c2");
}

TEST(Scenario, AcceptedConnectionsCanBeClosedOnceTheirListenerListens)
{
	EXPECT_NO_THROW(parse_scenario(with_events({
					       "{t: 1, op: socket, sock: t1, ns: c1, proto: tcp}",
					       "{t: 2, op: listen, sock: t1, backlog: 16}",
					       "{t: 3, op: close, sock: \"t1/10.233.2.2:40312\"}",
				       }),
				       "S.yaml"));
	expect_error(with_events({"{t: 1, op: socket, sock: t1, ns: c1, proto: tcp}", "{t: 3, op: close, sock: \"t1/10.233.2.2:40312\"}"}),
		     kFirstEventLine + 1, {"t1/10.233.2.2:40312", "has not listened"});
}

TEST(ScenarioErrors, UnknownKey)
{
	std::string text = kHost;
	text.replace(text.find("  cpus: 2"), 9, "  cpu: 2");
	expect_error(text, 4, {"unknown key 'cpu'", "host", "cpus"});
	expect_error(with_events({"{t: 1, op: flush, sock: s1}"}), kFirstEventLine, {"unknown key 'sock'", "flush"});
}

TEST(ScenarioErrors, MissingKey)
{
	std::string text = kHost;
	text.replace(text.find(", bridge: br42}"), 15, "}");
	expect_error(text, 8, {"missing key 'bridge'", "host.vxlan[0]"});
	expect_error(with_events({"{t: 1, op: socket, sock: s1, ns: c1}"}), kFirstEventLine, {"missing key 'proto'"});
	expect_error(with_events({"{op: flush}"}), kFirstEventLine, {"missing key 't'"});
}

TEST(ScenarioErrors, DuplicateKey)
{
	expect_error(with_events({"{t: 1, op: flush, t: 2}"}), kFirstEventLine, {"duplicate key 't'"});
}

TEST(ScenarioErrors, BadAddressesPortsMacsAndPrefixes)
{
	auto replaced = [](std::string from, std::string to) {
		std::string text = kHost;
		text.replace(text.find(from), from.size(), to);
		return text;
	};
	expect_error(replaced("192.168.0.2/24", "192.168.0.256/24"), 6, {"'ip'", "192.168.0.256/24"});
	expect_error(replaced("192.168.0.2/24", "192.168.0.2"), 6, {"'ip'", "prefix"});
	expect_error(replaced("\"02:00:00:00:00:02\"", "\"02:00:00:00:02\""), 6, {"'mac'", "02:00:00:00:02"});
	expect_error(replaced("port: 4789", "port: 70000"), 8, {"'port'", "70000"});
	expect_error(replaced("vni: 42", "vni: 16777216"), 8, {"'vni'", "16777216"});
	expect_error(with_events({"{t: 1, op: socket, sock: s1, ns: c1, proto: udp}", "{t: 2, op: bind, sock: s1, addr: \"10.0.0.1\"}"}),
		     kFirstEventLine + 1, {"'addr'", "10.0.0.1"});
	expect_error(with_events({"{t: 1, op: socket, sock: s1, ns: c1, proto: udp}", "{t: 2, op: connect, sock: s1, peer: \"10.0.0.1:0\"}"}),
		     kFirstEventLine + 1, {"'peer'"});
}

TEST(ScenarioErrors, BadValues)
{
	std::string rss = kHost;
	rss.replace(rss.find("rss: l4"), 7, "rss: l5");
	expect_error(rss, 5, {"'rss'", "l4|l3|none"});
	std::string version = kHost;
	version.replace(0, 10, "version: 2");
	expect_error(version, 1, {"'version'", "version 1"});
	expect_error(with_events({"{t: 1, op: link, dev: eth0, up: yes}"}), kFirstEventLine, {"true or false"});
	expect_error(with_events({"{t: -1, op: flush}"}), kFirstEventLine, {"'t'"});
	expect_error(with_events({"{t: 1.0000000001, op: flush}"}), kFirstEventLine, {"'t'", "9 decimals"});
	expect_error(with_events({"{t: 1, op: socket, sock: s1, ns: c1, proto: sctp}"}), kFirstEventLine, {"udp|tcp"});
}

TEST(ScenarioErrors, UnknownOp)
{
	expect_error(with_events({"{t: 1, op: shutdown, sock: s1}"}), kFirstEventLine, {"unknown op 'shutdown'", "netns_del"});
}

TEST(ScenarioErrors, UnknownReferences)
{
	expect_error(with_events({"{t: 1, op: socket, sock: s1, ns: c9, proto: udp}"}), kFirstEventLine, {"unknown namespace 'c9'"});
	expect_error(with_events({"{t: 1, op: link, dev: veth-c9, up: true}"}), kFirstEventLine, {"unknown device 'veth-c9'"});
	expect_error(with_events({"{t: 1, op: vni, dev: br42, vni: 7}"}), kFirstEventLine, {"unknown VXLAN device 'br42'"});
	expect_error(with_events({"{t: 1, op: fdb, bridge: br9, mac: \"02:42:0a:e9:01:02\", port: veth-c1}"}), kFirstEventLine,
		     {"unknown bridge 'br9'"});
	std::string text = kHost;
	text.replace(text.find("bridge: br42, veth: veth-c1"), 12, "bridge: br43");
	expect_error(text, 12, {"unknown bridge 'br43'"});
}

TEST(ScenarioErrors, FdbPortMustBeOnTheBridge)
{
	expect_error(with_events({"{t: 1, op: fdb, bridge: br42, mac: \"02:42:0a:e9:01:02\", port: eth0}"}), kFirstEventLine,
		     {"not attached to bridge 'br42'"});
	expect_error(with_events({"{t: 1, op: fdb, bridge: br42, mac: \"02:42:0a:e9:01:02\", port: veth-c1, dst: 192.168.0.1}"}),
		     kFirstEventLine, {"'dst'"});
}

TEST(ScenarioErrors, DuplicateAndOverlongDeviceNames)
{
	std::string twice = kHost;
	twice.replace(twice.find("veth: veth-c2"), 13, "veth: veth-c1");
	expect_error(twice, 13, {"'veth-c1'", "already used at line 12"});
	std::string vni = kHost;
	vni.replace(vni.find("    - {name: vxlan42"), 0, "    - {name: vxlan43, vni: 42, port: 4789, bridge: br42}\n");
	expect_error(vni, 9, {"VNI 42 on port 4789", "vxlan43"});
	std::string longer = kHost;
	longer.replace(longer.find("name: eth0"), 10, "name: eth0-is-too-long");
	expect_error(longer, 6, {"longer than 15"});
}

TEST(ScenarioErrors, SocketUsedBeforeItsSocketEvent)
{
	// Time order counts, not file order: the bind is earlier.
	expect_error(with_events({"{t: 2, op: socket, sock: s1, ns: c1, proto: udp}", "{t: 1, op: bind, sock: s1, addr: \"0.0.0.0:53\"}"}),
		     kFirstEventLine + 1, {"bind", "'s1'", "before its socket event"});
	expect_error(with_events({"{t: 1, op: close, sock: ghost}"}), kFirstEventLine, {"'ghost'", "before its socket event"});
}

TEST(ScenarioErrors, SocketUsedAfterClose)
{
	expect_error(with_events({"{t: 1, op: socket, sock: s1, ns: c1, proto: udp}", "{t: 2, op: close, sock: s1}",
				  "{t: 3, op: connect, sock: s1, peer: \"10.233.2.2:4000\"}"}),
		     kFirstEventLine + 2, {"'s1'", "after it was closed at line " + std::to_string(kFirstEventLine + 1)});
	expect_error(with_events({"{t: 1, op: socket, sock: s1, ns: c1, proto: udp}", "{t: 2, op: netns_del, ns: c1}",
				  "{t: 3, op: close, sock: s1}"}),
		     kFirstEventLine + 2, {"'s1'", "closed with namespace 'c1'"});
	expect_error(with_events({"{t: 2, op: netns_del, ns: c1}", "{t: 3, op: link, dev: veth-c1, up: true}"}), kFirstEventLine + 1,
		     {"'veth-c1'", "went with namespace 'c1'"});
}

TEST(ScenarioErrors, DuplicateSocketName)
{
	expect_error(with_events({"{t: 1, op: socket, sock: s1, ns: c1, proto: udp}", "{t: 2, op: close, sock: s1}",
				  "{t: 3, op: socket, sock: s1, ns: c2, proto: udp}"}),
		     kFirstEventLine + 2, {"'s1'", "already used (line " + std::to_string(kFirstEventLine) + ")"});
}

TEST(ScenarioErrors, SocketSemantics)
{
	expect_error(with_events({"{t: 1, op: socket, sock: u1, ns: c1, proto: udp}", "{t: 2, op: listen, sock: u1, backlog: 1}"}),
		     kFirstEventLine + 1, {"only a TCP socket listens"});
	expect_error(with_events({"{t: 1, op: socket, sock: s1, ns: c1, proto: udp}", "{t: 2, op: bind, sock: s1, addr: \"0.0.0.0:1\"}",
				  "{t: 3, op: bind, sock: s1, addr: \"0.0.0.0:2\"}"}),
		     kFirstEventLine + 2, {"already bound"});
	expect_error(with_events({"{t: 1, op: socket, sock: a/b, ns: c1, proto: udp}"}), kFirstEventLine, {"not a name"});
}

TEST(ScenarioErrors, SyntaxErrorsAndShapes)
{
	expect_error("version: 1\nhost: {name: [\n", 3, {"not valid YAML"});
	expect_error("", 0, {"empty"});
	expect_error("- 1\n- 2\n", 1, {"the scenario must be a mapping"});
	expect_error(kHost + "  - just-a-string\n", kFirstEventLine, {"events[0] must be a mapping"});
	expect_error(kHost + "---\nversion: 1\n", kFirstEventLine + 1, {"one YAML document"});
}

// ---- routed overlays (docs/scenario-extensions.md, "Routed overlays") ----

// Lines 1-24: flannel's node B as traces/flannel-udp holds it, with a Calico-style pod c2 beside.
std::string routed_host(const std::string &vxlan_line = R"(    - {name: flannel.1, vni: 1, port: 8472, mac: "02:00:00:02:00:01", ip: 10.233.1.0/32})")
{
	return R"(version: 1
host:
  name: node-b
  cpus: 2
  rss: l4
  nic: {name: eth0, mac: "02:00:00:00:00:02", ip: 192.168.0.2/24}
  sysctl: {ip_forward: true, rp_filter: 1}
  vxlan:
)" + vxlan_line + R"(
  bridges:
    - name: cni0
      mac: "02:00:00:02:01:01"
      ip: 10.233.1.1/24
  containers:
    - {name: c1, bridge: cni0, veth: veth-c1, mac: "02:01:0a:e9:01:02", ip: 10.233.1.2/24, gateway: 10.233.1.1}
    - {name: c2, veth: calic2, veth_mac: "ee:ee:ee:ee:ee:ee", proxy_arp: true, mac: "02:00:0a:e9:01:03", ip: 10.233.1.3/32}
  routes:
    - {dst: 10.233.1.0/24, dev: cni0, proto: kernel, scope: link, src: 10.233.1.1}
    - {dst: 10.233.1.3/32, dev: calic2, scope: link}
    - {dst: 10.233.2.0/24, via: 10.233.2.0, dev: flannel.1, onlink: true}
    - {dst: 192.168.0.0/24, dev: eth0, proto: kernel, scope: link, src: 192.168.0.2}
  neighbours:
    - {ip: 10.233.2.0, mac: "02:00:00:01:00:01", dev: flannel.1}
    - {ip: 192.168.0.1, mac: "02:00:00:00:00:01", dev: eth0}
)" + "events:\n";
}

// `learning: false` is flannel's `nolearning` (and every recording's); anything but a boolean is refused.
TEST(ScenarioRoutes, ReadsAVxlanDevicesLearningFlag)
{
	Scenario s = parse_scenario(
	    routed_host(R"(    - {name: flannel.1, vni: 1, port: 8472, learning: false, mac: "02:00:00:02:00:01", ip: 10.233.1.0/32})"),
	    "S.yaml");
	ASSERT_EQ(s.host.vxlan.size(), 1u);
	EXPECT_FALSE(s.host.vxlan[0].learning);
	try {
		parse_scenario(routed_host(R"(    - {name: flannel.1, vni: 1, port: 8472, learning: off-ish, mac: "02:00:00:02:00:01", ip: 10.233.1.0/32})"),
			       "S.yaml");
		ADD_FAILURE() << "learning: off-ish accepted";
	} catch (const ScenarioError &e) {
		EXPECT_NE(std::string(e.what()).find("S.yaml:9"), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("true or false"), std::string::npos) << e.what();
	}
}

TEST(ScenarioRoutes, ReadsTheRoutedKeys)
{
	Scenario s = parse_scenario(routed_host(), "S.yaml");
	EXPECT_TRUE(s.host.sysctl.ip_forward);
	EXPECT_EQ(s.host.sysctl.rp_filter, 1);
	ASSERT_EQ(s.host.vxlan.size(), 1u);
	EXPECT_EQ(s.host.vxlan[0].bridge, "");
	ASSERT_TRUE(s.host.vxlan[0].ip);
	EXPECT_EQ(to_string(*s.host.vxlan[0].ip), "10.233.1.0/32");
	EXPECT_EQ(to_string(*s.host.vxlan[0].mac), "02:00:00:02:00:01");
	EXPECT_TRUE(s.host.vxlan[0].learning) << "a device learns unless the scenario says otherwise";
	ASSERT_TRUE(s.host.bridges[0].ip);
	EXPECT_EQ(to_string(*s.host.bridges[0].ip), "10.233.1.1/24");
	EXPECT_EQ(to_string(*s.host.containers[0].gateway), "10.233.1.1");
	EXPECT_EQ(s.host.containers[1].bridge, "");
	EXPECT_TRUE(s.host.containers[1].proxy_arp);
	EXPECT_EQ(to_string(*s.host.containers[1].veth_mac), "ee:ee:ee:ee:ee:ee");
	ASSERT_TRUE(s.host.routes);
	ASSERT_EQ(s.host.routes->size(), 4u);
	const Route &gateway = (*s.host.routes)[2];
	EXPECT_EQ(to_string(gateway.dst), "10.233.2.0/24");
	EXPECT_EQ(to_string(*gateway.via), "10.233.2.0");
	EXPECT_EQ(gateway.dev, "flannel.1");
	EXPECT_TRUE(gateway.onlink);
	EXPECT_EQ((*s.host.routes)[0].scope, RouteScope::link);
	EXPECT_EQ((*s.host.routes)[0].proto, "kernel");
	ASSERT_EQ(s.host.neighbours.size(), 2u);
	EXPECT_EQ(s.host.neighbours[1].dev, "eth0");
}

TEST(ScenarioRoutes, WithoutRoutesTheTableIsLeftToTheAddresses)
{
	std::string text = routed_host();
	text.erase(text.find("  routes:"), text.find("  neighbours:") - text.find("  routes:"));
	EXPECT_FALSE(parse_scenario(text, "S.yaml").host.routes);
}

TEST(ScenarioRoutes, BadValuesNameFileLineAndKey)
{
	expect_error(routed_host(R"(    - {name: flannel.1, vni: 1, port: 8472, ip: 10.233.1.0/32})"), 9, {"missing key 'bridge'", "routed and needs 'mac' and 'ip'"});
	expect_error(routed_host(R"(    - {name: flannel.1, vni: 1, port: 8472, mac: "02:00:00:02:00:01", ip: 10.233.1.0/32, fdb: [{mac: "02:00:00:01:00:01"}]})"),
		     9, {"missing key 'dst'"});
	struct Edit {
		std::string from, to; // the first `from` in the text becomes `to`
		int line;
		std::string key, says;
	};
	const Edit edits[] = {
		{"rp_filter: 1", "rp_filter: 3", 7, "'rp_filter'", "0 to 2"},
		{"ip_forward: true", "ip_forward: yes", 7, "'ip_forward'", "true or false"},
		{"dst: 10.233.1.3/32", "dst: 10.233.1.3/24", 19, "'dst'", "host bits"},
		{"dev: calic2", "dev: calic9", 19, "'dev'", "'calic9' is not a device"},
		{", onlink: true", "", 20, "'via': gateway 10.233.2.0", "onlink"},
		{"dst: 10.233.1.3/32", "dst: 10.233.1.0/24", 19, "'dst'", "already at line 18"},
		{"calic2, scope: link", "calic2, scope: site", 19, "'scope'", "'site'"},
		{R"(mac: "02:00:00:00:00:01", dev: eth0)", R"(mac: "02:00:00:00:00", dev: eth0)", 24, "'mac'", "MAC address"},
		{R"(192.168.0.1, mac: "02:00:00:00:00:01", dev: eth0)", R"(10.233.2.0, mac: "02:00:00:00:00:01", dev: flannel.1)",
		 24, "'ip'", "given twice"},
	};
	for (const Edit &edit : edits) {
		std::string text = routed_host();
		text.replace(text.find(edit.from), edit.from.size(), edit.to);
		expect_error(text, edit.line, {edit.key, edit.says});
	}
}

TEST(ScenarioRoutes, NatRules)
{
	auto with_nat = [](const std::string &rules) {
		std::string text = routed_host();
		text.insert(text.find("events:"), "  nat:\n" + rules); // the rules start at line 26
		return text;
	};
	Scenario s = parse_scenario(with_nat("    - {proto: tcp, port: 32150, to: 10.233.2.5:80}\n"
					     "    - {proto: udp, port: 32150, to: 10.233.2.6:53}\n"),
				    "S.yaml");
	ASSERT_EQ(s.host.nat.size(), 2u);
	EXPECT_EQ(s.host.nat[0].proto, SocketProto::tcp);
	EXPECT_EQ(s.host.nat[0].port, 32150);
	EXPECT_EQ(to_string(s.host.nat[0].to), "10.233.2.5:80");
	EXPECT_EQ(s.host.nat[1].line, 27);
	expect_error(with_nat("    - {proto: sctp, port: 32150, to: 10.233.2.5:80}\n"), 26, {"'proto'", "'sctp'"});
	expect_error(with_nat("    - {proto: tcp, port: 0, to: 10.233.2.5:80}\n"), 26, {"'port'"});
	expect_error(with_nat("    - {proto: tcp, port: 32150}\n"), 26, {"missing key 'to'"});
	expect_error(with_nat("    - {proto: tcp, port: 32150, to: 10.233.2.5}\n"), 26, {"'to'"});
	expect_error(with_nat("    - {proto: tcp, port: 32150, to: 10.233.2.5:80}\n    - {proto: tcp, port: 32150, to: 10.233.2.6:80}\n"),
		     27, {"'port'", "already has a rule at line 26"});
}

TEST(ScenarioRoutes, RoutingEvents)
{
	Scenario s = parse_scenario(routed_host() + R"(  - {t: 1.0, op: sysctl, rp_filter: 2}
  - {t: 2.0, op: route, dst: 10.233.3.0/24, via: 10.233.3.0, dev: flannel.1, onlink: true}
  - {t: 3.0, op: route_del, dst: 10.233.3.0/24}
  - {t: 4.0, op: neigh, ip: 10.233.3.0, mac: "02:00:00:03:00:01", dev: flannel.1}
)",
				    "S.yaml");
	ASSERT_EQ(s.events.size(), 4u);
	EXPECT_EQ(s.events[0].op, EventOp::sysctl);
	EXPECT_FALSE(s.events[0].ip_forward);
	EXPECT_EQ(s.events[0].rp_filter, 2);
	EXPECT_EQ(to_string(s.events[1].route.dst), "10.233.3.0/24");
	EXPECT_EQ(s.events[1].route.dev, "flannel.1");
	EXPECT_EQ(to_string(s.events[2].route.dst), "10.233.3.0/24");
	EXPECT_EQ(to_string(s.events[3].neighbour.mac), "02:00:00:03:00:01");
	expect_error(routed_host() + "  - {t: 1.0, op: sysctl}\n", 26, {"sysctl", "'ip_forward', 'rp_filter'"});
	expect_error(routed_host() + "  - {t: 1.0, op: route, dst: 10.233.3.0/24, dev: flannel.9}\n", 26, {"unknown device 'flannel.9'"});
	expect_error(routed_host() + "  - {t: 1.0, op: route_del, dst: 10.233.3.1/24}\n", 26, {"'dst'", "host bits"});
	expect_error(routed_host() + "  - {t: 1.0, op: neigh, ip: 10.233.3.0, dev: eth0}\n", 26, {"missing key 'mac'"});
}

} // namespace
} // namespace econsim::sim

namespace econsim::sim {
namespace {

TEST(ScenarioNetfilter, TheRulesetAndItsErrors)
{
	// The routed host's devices: flannel.1, cni0, veth-p1 … (the block starts at line 26).
	auto with_netfilter = [](const std::string &block) {
		std::string text = routed_host();
		text.insert(text.find("events:"), "  netfilter:\n" + block);
		return text;
	};
	const std::string rules = "    forward:\n"
				  "      policy: drop\n"
				  "      rules:\n"
				  "        - {ctstate: [related, established], target: accept}\n"
				  "        - {proto: udp, dport: 5099, src: 10.233.2.0/24, target: drop}\n"
				  "        - {in: flannel.1, out: cni0, target: accept}\n";
	Scenario s = parse_scenario(with_netfilter("    bridge_nf_call_iptables: true\n"
						   "    conntrack: {udp_timeout: 3, udp_timeout_stream: 6}\n" +
						   rules),
				    "S.yaml");
	ASSERT_TRUE(s.host.netfilter);
	const model::NetfilterConfig &nf = *s.host.netfilter;
	EXPECT_TRUE(nf.bridge_nf_call_iptables);
	EXPECT_EQ(nf.udp_timeout_ns, 3'000'000'000);
	EXPECT_EQ(nf.udp_timeout_stream_ns, 6'000'000'000);
	EXPECT_FALSE(nf.forward.policy_accept);
	ASSERT_EQ(nf.forward.rules.size(), 3u);
	EXPECT_EQ(nf.forward.rules[0].ctstates, model::ct_related | model::ct_established);
	EXPECT_TRUE(nf.forward.rules[0].accept);
	EXPECT_EQ(nf.forward.rules[1].proto, model::Protocol::udp);
	EXPECT_EQ(nf.forward.rules[1].dport, 5099);
	EXPECT_EQ(to_string(*nf.forward.rules[1].src), "10.233.2.0/24");
	EXPECT_FALSE(nf.forward.rules[1].accept);
	EXPECT_EQ(nf.forward.rules[1].line, 32);
	EXPECT_EQ(nf.forward.rules[2].in, "flannel.1");
	EXPECT_EQ(nf.forward.rules[2].out, "cni0");

	// The defaults: no br_netfilter, the kernel's UDP timeouts.
	Scenario defaults = parse_scenario(with_netfilter("    forward: {policy: accept}\n"), "S.yaml");
	EXPECT_FALSE(defaults.host.netfilter->bridge_nf_call_iptables);
	EXPECT_EQ(defaults.host.netfilter->udp_timeout_ns, 30'000'000'000);
	EXPECT_EQ(defaults.host.netfilter->udp_timeout_stream_ns, 120'000'000'000);
	EXPECT_FALSE(parse_scenario(routed_host(), "S.yaml").host.netfilter);

	expect_error(with_netfilter("    bridge_nf_call_iptables: true\n"), 26, {"missing key 'forward'"});
	expect_error(with_netfilter("    forward: {policy: reject}\n"), 26, {"'policy'", "'reject'"});
	expect_error(with_netfilter("    conntrack: {udp_timeout: 0}\n    forward: {policy: drop}\n"), 26,
		     {"'udp_timeout'"});
	expect_error(with_netfilter("    conntrack: {tcp_timeout: 5}\n    forward: {policy: drop}\n"), 26,
		     {"unknown key 'tcp_timeout'"});
	auto with_rule = [&](const std::string &rule) {
		return with_netfilter("    forward:\n      policy: drop\n      rules:\n        - " + rule + "\n");
	};
	expect_error(with_rule("{dport: 53, target: accept}"), 29, {"'dport' needs 'proto'"});
	expect_error(with_rule("{proto: icmp, target: accept}"), 29, {"'proto'", "'icmp'"});
	expect_error(with_rule("{in: eth9, target: accept}"), 29, {"'in'", "'eth9'", "not a device"});
	expect_error(with_rule("{ctstate: [new, untracked], target: accept}"), 29, {"'untracked'"});
	expect_error(with_rule("{ctstate: [], target: accept}"), 29, {"at least one state"});
	expect_error(with_rule("{proto: tcp, target: reject}"), 29, {"'target'", "'reject'"});
	expect_error(with_rule("{proto: tcp}"), 29, {"missing key 'target'"});
	expect_error(with_rule("{proto: tcp, sport: 70000, target: drop}"), 29, {"'sport'"});
}

} // namespace
} // namespace econsim::sim
