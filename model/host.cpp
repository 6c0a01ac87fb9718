#include "model/host.h"

namespace econsim::model {

Host::Host() : sockets_(topology_) {}

Error Host::add_nic(std::string name, MacAddress mac, Ipv4Interface address)
{
	return topology_.add_nic(std::move(name), mac, address);
}

Error Host::add_bridge(std::string name)
{
	return topology_.add_bridge(std::move(name));
}

Error Host::add_vxlan(std::string name, std::uint32_t vni, std::uint16_t udp_port, std::string bridge)
{
	const Error opened = sockets_.open_vxlan_socket(udp_port);
	if (opened != Error::none)
		return opened;
	const Error added = topology_.add_vxlan(std::move(name), vni, udp_port, std::move(bridge));
	if (added != Error::none && !topology_.vxlan_port_in_use(udp_port))
		sockets_.close_vxlan_socket(udp_port);
	return added;
}

Error Host::add_container(std::string name, std::string bridge, std::string veth, MacAddress mac, Ipv4Interface address)
{
	return topology_.add_container(std::move(name), std::move(bridge), std::move(veth), mac, address);
}

Error Host::set_link(std::string_view name, bool up)
{
	const Device *device = topology_.device(name);
	if (!device)
		return Error::unknown_device;
	if (device->kind != DeviceKind::vxlan || device->admin_up == up)
		return topology_.set_link(name, up);

	const std::uint16_t port = device->udp_port;
	if (up) {
		const Error opened = sockets_.open_vxlan_socket(port); // vxlan_open → vxlan_sock_add
		if (opened != Error::none)
			return opened;
		return topology_.set_link(name, true);
	}
	const Error changed = topology_.set_link(name, false); // vxlan_stop → vxlan_sock_release
	if (!topology_.vxlan_port_in_use(port))
		sockets_.close_vxlan_socket(port);
	return changed;
}

Error Host::delete_container(std::string_view name)
{
	if (!topology_.container(name))
		return Error::unknown_namespace;
	std::vector<std::string> in_namespace;
	for (const Socket *socket : sockets_.all())
		if (socket->ns == name)
			in_namespace.push_back(socket->name);
	for (const std::string &socket : in_namespace)
		sockets_.close(socket);
	return topology_.remove_container(name);
}

} // namespace econsim::model
