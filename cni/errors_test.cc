#include "cni/errors.h"

#include <gtest/gtest.h>

namespace quasar::cni {
namespace {

TEST(CniErrors, MapsStatusCodesToSpecCodes) {
  EXPECT_EQ(codeFor(absl::UnavailableError("daemon down")), kTryAgainLater);
  EXPECT_EQ(codeFor(absl::ResourceExhaustedError("full")), kAddressesExhausted);
  EXPECT_EQ(codeFor(absl::AlreadyExistsError("exists")), kAttachmentExists);
  EXPECT_EQ(codeFor(absl::InvalidArgumentError("bad")), kInvalidConfig);
  EXPECT_EQ(codeFor(absl::InternalError("x")), kInternal);
}

TEST(CniErrors, PinnedCodeWins) {
  EXPECT_EQ(codeFor(withCode(absl::InvalidArgumentError("x"), kDecodeFailure)), kDecodeFailure);
}

TEST(CniErrors, ErrorJsonSplitsKernelDetail) {
  auto j =
      errorJson("1.0.0", absl::AlreadyExistsError("create veth a: File exists (kernel: boom)"));
  EXPECT_EQ(j["cniVersion"], "1.0.0");
  EXPECT_EQ(j["code"], kAttachmentExists);
  EXPECT_EQ(j["msg"], "create veth a: File exists");
  EXPECT_EQ(j["details"], "create veth a: File exists (kernel: boom)");
}

}  // namespace
}  // namespace quasar::cni
