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

// The message may quote anything (a parser's "last read" bytes): the error JSON renders anyway.
TEST(CniErrors, ErrorJsonRendersMessagesThatAreNotUtf8) {
  auto j = errorJson("1.1.0", absl::InvalidArgumentError("last read: '\xff\xfe' (kernel: \x80)"));
  std::string text;
  ASSERT_NO_THROW(text = j.dump());
  auto back = nlohmann::json::parse(text);
  EXPECT_EQ(back["msg"], "last read: '\xef\xbf\xbd\xef\xbf\xbd'");
  EXPECT_EQ(back["details"], "last read: '\xef\xbf\xbd\xef\xbf\xbd' (kernel: \xef\xbf\xbd)");
}

// quasard's failure reasons (PluginReply.reason) get codes of their own; the status code alone
// (ResourceExhausted for a full pool and for a full pod CIDR) would not tell them apart.
TEST(CniErrors, FailureReasonsHaveTheirOwnCodes) {
  EXPECT_EQ(codeForReason(0), 0);
  EXPECT_EQ(codeForReason(1), kNoPoolForNode);
  EXPECT_EQ(codeForReason(2), kPoolsFull);
  EXPECT_EQ(codeForReason(3), kFloatingAddressTaken);
  EXPECT_EQ(codeForReason(4), kOutsidePools);
  EXPECT_EQ(codeForReason(5), kNodeAddressLimit);
  EXPECT_EQ(static_cast<int>(kNodeAddressLimit), 109);
  EXPECT_EQ(codeForReason(99), 0);
  auto full = withCode(absl::ResourceExhaustedError("every pool full"),
                       static_cast<CniCode>(codeForReason(2)));
  EXPECT_EQ(errorJson("1.1.0", full)["code"], 106);
  EXPECT_EQ(errorJson("1.1.0", absl::ResourceExhaustedError("pod CIDR full"))["code"], 101);
}

}  // namespace
}  // namespace quasar::cni
