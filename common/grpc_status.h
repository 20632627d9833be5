// Status <-> grpc::Status, one function each way (the codes are the same).
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace p2pshare {

grpc::Status ToGrpcStatus(const Status& status);
Status FromGrpcStatus(const grpc::Status& status);

}  // namespace p2pshare
