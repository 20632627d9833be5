// Settings every cpp-httplib server of the project needs (central's API,
// peer-server's /metrics).
#pragma once

namespace httplib {
class Server;
}

namespace p2pshare {

// cpp-httplib's default socket options add SO_REUSEPORT, which lets a
// second server bind the same port silently; this keeps only SO_REUSEADDR,
// so a taken port is an error at bind.
void RefuseSharedPort(httplib::Server& server);

}  // namespace p2pshare
