// What a refused operation returns. Socket calls return the errno the kernel would; the rest are
// the model's own refusals (a name it does not know, a device declared twice).
#pragma once

namespace econsim::model {

enum class Error {
	none,
	// errno values, as the kernel returns them
	address_in_use,        // EADDRINUSE: bind/listen conflict (udp_lib_get_port, inet_csk_get_port)
	address_not_available, // EADDRNOTAVAIL: bind to an address that is not local; TCP 4-tuple taken
	invalid_argument,      // EINVAL: bind twice, bind a connected socket, listen a connected socket
	already_connected,     // EISCONN: TCP connect on a socket that is not closed
	not_supported,         // EOPNOTSUPP: listen on UDP
	permission_denied,     // EACCES: UDP connect to a broadcast address without SO_BROADCAST
	network_unreachable,   // ENETUNREACH: TCP connect to a broadcast or multicast address
	no_free_port,          // EAGAIN: autobind found no free ephemeral port
	// the model's own
	unknown_socket,
	socket_name_taken, // names are unique for the whole run, closed names included
	unknown_namespace,
	unknown_device,
	device_exists,     // a device name, or a VXLAN VNI+port, declared twice
	wrong_device_kind, // e.g. a container attached to something that is not a bridge
};

// "EADDRINUSE", ... for errno values; "unknown_socket", ... for the model's own.
const char *to_string(Error error);

} // namespace econsim::model
