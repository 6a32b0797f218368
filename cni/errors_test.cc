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

}  // namespace
}  // namespace quasar::cni
