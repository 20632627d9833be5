#include "common/grpc_status.h"

namespace p2pshare {

grpc::Status ToGrpcStatus(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message(), s.reason());
}

Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  return Status(static_cast<Code>(s.error_code()), s.error_message(), s.error_details());
}

}  // namespace p2pshare
