// A scenario file as a whole: one YAML (or JSON) document, its version, host, fast-path mode and
// events. The parts are read in scenario_host.cpp, scenario_events.cpp and checked along the
// timeline in scenario_timeline.cpp; the value readers they share are in scenario_fields.cpp.
#include "scenario.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>

#include "scenario_reader.h"

namespace econsim::sim {

using namespace scenario_reader;

namespace {

// The whole file: version, host, fast-path mode and events; the events in time order, checked
// along the timeline.
Scenario read_scenario(const FieldReader &in, const YAML::Node &root)
{
	if (!root.IsDefined() || root.IsNull())
		in.fail(0, "the scenario is empty");
	in.expect_keys(root, "the scenario", {"version", "host"}, {"fastpath", "events"});
	Scenario scenario;
	scenario.file = in.file();
	if (in.scalar(root, "version") != "1")
		in.fail(root["version"], "'version': " + quoted(in.scalar(root, "version")) + " is not a known version (this reads version 1)");
	scenario.version = 1;
	scenario.host = read_host(in, root["host"]);
	if (root["fastpath"].IsDefined()) {
		in.expect_keys(root["fastpath"], "fastpath", {"mode"});
		scenario.mode = in.choose(root["fastpath"], "mode", kFastpathModes);
	}
	if (root["events"].IsDefined())
		scenario.events = read_events(in, root["events"]);
	// Stable: events at the same instant keep the order the author wrote them in.
	std::stable_sort(scenario.events.begin(), scenario.events.end(),
			 [](const Event &a, const Event &b) { return a.t_ns < b.t_ns; });
	check_timeline(scenario);
	return scenario;
}

template <typename Enum, std::size_t N>
std::string_view name_in(const EnumName<Enum> (&table)[N], Enum value)
{
	for (const auto &entry : table)
		if (entry.value == value)
			return entry.name;
	return "?";
}

} // namespace

const Container *Scenario::find_container(std::string_view name) const
{
	for (const Container &container : host.containers)
		if (container.name == name)
			return &container;
	return nullptr;
}

const Bridge *Scenario::find_bridge(std::string_view name) const
{
	for (const Bridge &bridge : host.bridges)
		if (bridge.name == name)
			return &bridge;
	return nullptr;
}

const VxlanDevice *Scenario::find_vxlan(std::string_view name) const
{
	for (const VxlanDevice &vxlan : host.vxlan)
		if (vxlan.name == name)
			return &vxlan;
	return nullptr;
}

namespace {

// Where the root node of each document the parser reports is; nothing else is kept.
class DocumentRoots : public YAML::EventHandler {
public:
	std::vector<YAML::Mark> marks;

	void OnDocumentStart(const YAML::Mark &) override { in_root_ = false; }
	void OnDocumentEnd() override {}
	void OnNull(const YAML::Mark &mark, YAML::anchor_t) override { node(mark); }
	void OnAlias(const YAML::Mark &mark, YAML::anchor_t) override { node(mark); }
	void OnScalar(const YAML::Mark &mark, const std::string &, YAML::anchor_t, const std::string &) override { node(mark); }
	void OnSequenceStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t, YAML::EmitterStyle::value) override { node(mark); }
	void OnSequenceEnd() override {}
	void OnMapStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t, YAML::EmitterStyle::value) override { node(mark); }
	void OnMapEnd() override {}

private:
	bool in_root_ = false;

	void node(const YAML::Mark &mark)
	{
		if (!in_root_)
			marks.push_back(mark);
		in_root_ = true;
	}
};

// The root nodes of the first two documents at most. Not YAML::LoadAll: on some malformed streams
// (a lone ",") yaml-cpp 0.7's parser reports an empty document without taking the token, and
// LoadAll asks for the next one forever, its memory growing until the process dies (yaml-cpp issue
// #1040, fixed upstream after 0.7).
std::vector<YAML::Mark> first_document_roots(const std::string &text)
{
	std::istringstream in(text);
	YAML::Parser parser(in);
	DocumentRoots roots;
	for (int documents = 0; documents < 2 && parser.HandleNextDocument(roots); ++documents)
		;
	return roots.marks;
}

} // namespace

Scenario parse_scenario(const std::string &text, const std::string &file)
{
	YAML::Node root;
	std::vector<YAML::Mark> roots;
	try {
		root = YAML::Load(text); // the first document
		roots = first_document_roots(text);
	} catch (const YAML::Exception &e) {
		throw ScenarioError(file, e.mark.line >= 0 ? e.mark.line + 1 : 0, "not valid YAML or JSON: " + e.msg);
	}
	if (roots.size() > 1) {
		int line = roots[1].line >= 0 ? roots[1].line + 1 : 0;
		// A second document whose root is the first one's is the stuck parser, not a document.
		if (roots[1].pos == roots[0].pos)
			throw ScenarioError(file, line, "not valid YAML or JSON: no node can start here");
		throw ScenarioError(file, line, "a scenario is one YAML document; this is the second");
	}
	try {
		return read_scenario(FieldReader(file), root);
	} catch (const YAML::Exception &e) {
		// The reader checks shapes before it converts; this is the net under anything it missed.
		throw ScenarioError(file, e.mark.line >= 0 ? e.mark.line + 1 : 0, e.msg);
	}
}

Scenario load_scenario(const std::string &path)
{
	auto text = read_input_file(path);
	if (!text)
		throw ScenarioError(path, 0, "cannot open the scenario");
	return parse_scenario(*text, path);
}

ParserConfig parser_config(const Scenario &scenario)
{
	ParserConfig config;
	config.vxlan_ports.clear();
	for (const VxlanDevice &vxlan : scenario.host.vxlan)
		if (std::find(config.vxlan_ports.begin(), config.vxlan_ports.end(), vxlan.port) == config.vxlan_ports.end())
			config.vxlan_ports.push_back(vxlan.port);
	config.mtu = scenario.host.nic.mtu;
	return config;
}

std::string_view to_string(RssMode mode)
{
	return name_in(kRssModes, mode);
}

std::string_view to_string(FastpathMode mode)
{
	return name_in(kFastpathModes, mode);
}

std::string_view to_string(SocketProto proto)
{
	return name_in(kSocketProtos, proto);
}

std::optional<FastpathMode> parse_fastpath_mode(std::string_view text)
{
	for (const auto &entry : kFastpathModes)
		if (entry.name == text)
			return entry.value;
	return std::nullopt;
}

} // namespace econsim::sim
