#include "common/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

namespace p2pshare {

void RefuseSharedPort(httplib::Server& server) {
  server.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

}  // namespace p2pshare
