#include "cost_table.h"

#include <yaml-cpp/yaml.h>

#include "input_file.h"
#include "timing/costs_yaml.h" // generated: kCostsYaml, the text of costs.yaml

namespace econsim::sim::timing {

namespace {

int line_of(const YAML::Node &node)
{
	return node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
}

template <typename T>
T number(const YAML::Node &section, const char *key, const std::string &file, const std::string &where)
{
	YAML::Node value = section[key];
	if (!value || !value.IsScalar())
		throw InputError(file, line_of(section), where + "." + key + " is missing");
	try {
		T n = value.as<T>();
		if (n < 0)
			throw InputError(file, line_of(value), where + "." + key + " is negative");
		return n;
	} catch (const YAML::BadConversion &) {
		throw InputError(file, line_of(value), where + "." + key + " is not a number");
	}
}

std::string text(const YAML::Node &section, const char *key)
{
	YAML::Node value = section[key];
	return value && value.IsScalar() ? value.as<std::string>() : std::string("?");
}

} // namespace

CostTable parse_costs(const std::string &text_, const std::string &file)
{
	YAML::Node root;
	try {
		root = YAML::Load(text_);
	} catch (const YAML::Exception &e) {
		throw InputError(file, e.mark.line >= 0 ? e.mark.line + 1 : 0, e.msg);
	}
	YAML::Node stages = root["stages"], per_byte = root["per_byte"], machine = root["machine"];
	if (!stages || !stages.IsMap())
		throw InputError(file, 0, "no stages: section");
	if (!per_byte || !per_byte.IsMap())
		throw InputError(file, 0, "no per_byte: section");
	CostTable c;
	auto ns = [&](const char *key) { return number<std::int64_t>(stages, key, file, "stages"); };
	c.nic_rx = ns("nic_rx");
	c.ip_rcv = ns("ip_rcv");
	c.ip_rcv_early = ns("ip_rcv_early");
	c.vxlan_rcv = ns("vxlan_rcv");
	c.gro_cells = ns("gro_cells");
	c.br_handle_frame = ns("br_handle_frame");
	c.br_netfilter = ns("br_netfilter");
	c.veth_xmit = ns("veth_xmit");
	c.backlog = ns("backlog");
	c.ip_rcv_container = ns("ip_rcv_container");
	c.deliver = ns("deliver");
	c.fastpath_hit = ns("fastpath_hit");
	c.per_byte_rx = number<double>(per_byte, "rx", file, "per_byte");
	c.per_byte_overlay = number<double>(per_byte, "overlay", file, "per_byte");
	c.source = file;
	if (machine && machine.IsMap())
		c.machine = text(machine, "cpu") + ", " + text(machine, "nproc") + " CPUs, Linux " + text(machine, "kernel") +
			    " (" + text(machine, "hypervisor") + "), " + text(machine, "date");
	return c;
}

CostTable load_costs(const std::string &path)
{
	std::optional<std::string> text_ = read_input_file(path);
	if (!text_)
		throw InputError(path, 0, "cannot read the cost table");
	return parse_costs(*text_, path);
}

const CostTable &measured_costs()
{
	static const CostTable table = parse_costs(kCostsYaml, "sim/timing/costs.yaml (built in)");
	return table;
}

} // namespace econsim::sim::timing
