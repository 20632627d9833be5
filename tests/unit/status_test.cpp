#include "common/status.h"

#include <gtest/gtest.h>

#include "common/grpc_status.h"

namespace p2pshare {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(StatusTest, HttpMappingFollowsTheSpec) {
  EXPECT_EQ(HttpStatusFor(InvalidArgument("x")), 400);
  EXPECT_EQ(HttpStatusFor(Unauthenticated("x")), 401);
  EXPECT_EQ(HttpStatusFor(PermissionDenied("x")), 403);
  EXPECT_EQ(HttpStatusFor(NotFound("x")), 404);
  EXPECT_EQ(HttpStatusFor(AlreadyExists("x")), 409);
  EXPECT_EQ(HttpStatusFor(ResourceExhausted("x", "too_many_attempts")), 429);
  EXPECT_EQ(HttpStatusFor(ResourceExhausted("x", "payload_too_large")), 413);
  EXPECT_EQ(HttpStatusFor(Unavailable("x")), 503);
  EXPECT_EQ(HttpStatusFor(Internal("x")), 500);
}

TEST(StatusTest, HttpStatusMapsBackToCodes) {
  for (Status s : {InvalidArgument("x"), Unauthenticated("x"), PermissionDenied("x"),
                   NotFound("x"), AlreadyExists("x"), Unavailable("x")}) {
    EXPECT_EQ(CodeForHttpStatus(HttpStatusFor(s)), s.code()) << s.ToString();
  }
}

TEST(StatusTest, DefaultReasonAndExplicitReason) {
  EXPECT_EQ(InvalidArgument("x").reason(), "bad_request");
  EXPECT_EQ(AlreadyExists("x", "username_taken").reason(), "username_taken");
  EXPECT_EQ(NotFound("gone").ToString(), "NOT_FOUND (not_found): gone");
}

TEST(StatusTest, AssignOrReturnPropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
  EXPECT_EQ(Quarter(7).status().code(), Code::kInvalidArgument);
}

TEST(StatusTest, GrpcStatusRoundTripKeepsCodeMessageAndReason) {
  for (int c = 1; c <= 16; ++c) {
    const Code code = static_cast<Code>(c);
    for (const Status& s : {Status(code, "what went wrong"), Status(code, "taken", "username_taken")}) {
      grpc::Status g = ToGrpcStatus(s);
      EXPECT_EQ(static_cast<int>(g.error_code()), c);
      EXPECT_EQ(g.error_message(), s.message());
      Status back = FromGrpcStatus(g);
      EXPECT_EQ(back.code(), s.code()) << s.ToString();
      EXPECT_EQ(back.message(), s.message());
      EXPECT_EQ(back.reason(), s.reason());
    }
  }
  EXPECT_TRUE(ToGrpcStatus(Status::Ok()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  // A status from a peer of another version, without a reason: the code's.
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "gone")).reason(), "not_found");
}

}  // namespace
}  // namespace p2pshare
