#include "model/error.h"

namespace econsim::model {

const char *to_string(Error error)
{
	switch (error) {
	case Error::none: return "none";
	case Error::address_in_use: return "EADDRINUSE";
	case Error::address_not_available: return "EADDRNOTAVAIL";
	case Error::invalid_argument: return "EINVAL";
	case Error::already_connected: return "EISCONN";
	case Error::not_supported: return "EOPNOTSUPP";
	case Error::permission_denied: return "EACCES";
	case Error::network_unreachable: return "ENETUNREACH";
	case Error::no_free_port: return "EAGAIN";
	case Error::unknown_socket: return "unknown_socket";
	case Error::socket_name_taken: return "socket_name_taken";
	case Error::unknown_namespace: return "unknown_namespace";
	case Error::unknown_device: return "unknown_device";
	case Error::device_exists: return "device_exists";
	case Error::wrong_device_kind: return "wrong_device_kind";
	}
	return "?";
}

} // namespace econsim::model
