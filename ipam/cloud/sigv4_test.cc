#include "ipam/cloud/sigv4.h"

#include <gtest/gtest.h>

#include <string>

namespace quasar::ipam::cloud {
namespace {

// Sources of the expected values (AWS's, not computed by this code):
//   [GR]   AWS General Reference, "Signature Version 4 signing process", the worked example
//          (IAM ListUsers, 2015-08-30T12:36:00Z, us-east-1): canonical request, its hash, the
//          signing key and the signature.
//   [C]    the Signature Version 4 test suite as kept by awslabs/aws-c-auth,
//          tests/aws-signing-test-suite/v4/<case>/{request.txt, header-canonical-request.txt,
//          header-string-to-sign.txt, header-signature.txt} (commit 495329c2).
//   [JS]   the same suite as kept by aws/aws-sdk-js-v3,
//          packages/signature-v4/src/suite.fixture.ts (the original suite's Authorization).
// Every suite case: AKIDEXAMPLE, us-east-1, service "service", 2015-08-30T12:36:00Z.

const Credentials kSuiteCreds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};

absl::Time suiteTime() {
  return absl::FromCivil(absl::CivilSecond(2015, 8, 30, 12, 36, 0), absl::UTCTimeZone());
}

SigningScope suiteScope() { return {"us-east-1", "service", suiteTime()}; }

SigningRequest suiteRequest(std::string method, std::string path, Params query = {},
                            Params headers = {}, std::string payload = "") {
  SigningRequest r;
  r.method = std::move(method);
  r.host = "example.amazonaws.com";
  r.path = std::move(path);
  r.query = std::move(query);
  r.headers = std::move(headers);
  r.payload = std::move(payload);
  return r;
}

std::string suiteAuthz(const std::string& signed_headers, const std::string& signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=" +
         signed_headers + ", Signature=" + signature;
}

constexpr char kEmptyHash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(SigV4, GeneralReferenceIamListUsersExample) {  // [GR]
  SigningRequest r;
  r.method = "GET";
  r.host = "iam.amazonaws.com";
  r.path = "/";
  r.query = {{"Action", "ListUsers"}, {"Version", "2010-05-08"}};
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  const Credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  SignedHeaders s = signRequest(r, creds, {"us-east-1", "iam", suiteTime()});

  EXPECT_EQ(s.canonical_request,
            "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
            "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
            "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "content-type;host;x-amz-date\n" +
                std::string(kEmptyHash));
  EXPECT_EQ(sha256Hex(s.canonical_request),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  EXPECT_EQ(hexEncode(signingKey(creds.secret_access_key, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
  EXPECT_EQ(s.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
  EXPECT_EQ(s.amz_date, "20150830T123600Z");
  EXPECT_EQ(s.security_token, "");
}

TEST(SigV4Suite, GetVanilla) {  // [C] get-vanilla
  SignedHeaders s = signRequest(suiteRequest("GET", "/"), kSuiteCreds, suiteScope());
  EXPECT_EQ(s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n" +
                std::string(kEmptyHash));
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(s.authorization,
            suiteAuthz("host;x-amz-date",
                       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

TEST(SigV4Suite, GetVanillaQueryOrderKeyCase) {  // [C] get-vanilla-query-order-key-case
  SignedHeaders s =
      signRequest(suiteRequest("GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}}),
                  kSuiteCreds, suiteScope());
  EXPECT_EQ(s.canonical_request,
            "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
                std::string(kEmptyHash));
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
  EXPECT_EQ(s.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4Suite, QueryEncodingAndOrder) {
  // [C] get-vanilla-query-unreserved: unreserved characters stay as they are.
  const std::string unreserved =
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  EXPECT_EQ(
      signRequest(suiteRequest("GET", "/", {{unreserved, unreserved}}), kSuiteCreds, suiteScope())
          .signature,
      "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
  // [C] get-vanilla-utf8-query: UTF-8 bytes are percent-encoded.
  SignedHeaders utf8 =
      signRequest(suiteRequest("GET", "/", {{"\xe1\x88\xb4", "bar"}}), kSuiteCreds, suiteScope());
  EXPECT_NE(utf8.canonical_request.find("\n%E1%88%B4=bar\n"), std::string::npos);
  EXPECT_EQ(utf8.signature, "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04");
  // [C] get-vanilla-query-order-encoded: sorted by the encoded key ('%' before 'P').
  SignedHeaders order = signRequest(
      suiteRequest("GET", "/",
                   {{"Param-3", "Value3"}, {"Param", "Value2"}, {"\xe1\x88\xb4", "Value1"}}),
      kSuiteCreds, suiteScope());
  EXPECT_NE(order.canonical_request.find("\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n"),
            std::string::npos);
  EXPECT_EQ(order.signature, "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac");
  // [JS] post-vanilla-query-nonunreserved: reserved characters are %XX, '+' included.
  SignedHeaders reserved =
      signRequest(suiteRequest("POST", "/", {{"@#$%^", ""}, {"+", "/,?><`\";:\\|][{}"}}),
                  kSuiteCreds, suiteScope());
  EXPECT_NE(reserved.canonical_request.find(
                "\n%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D&%40%23%24%25%5E=\n"),
            std::string::npos);
  EXPECT_EQ(reserved.signature, "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e");
}

TEST(SigV4Suite, PathEncodingAndNormalisation) {
  struct Case {
    const char* name;
    const char* path;
    const char* canonical_uri;
    const char* signature;
  };
  const Case cases[] = {
      {"get-space-normalized", "/example space/", "/example%20space/",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"get-utf8", "/\xe1\x88\xb4", "/%E1%88%B4",
       "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-unreserved", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-slashes-normalized", "//example//", "/example/",
       "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
      {"get-relative-relative-normalized", "/example1/example2/../..", "/",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash-pointless-dot-normalized", "/./example", "/example",
       "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
  };
  for (const Case& c : cases) {  // [C] each case's canonical request and signature
    SCOPED_TRACE(c.name);
    EXPECT_EQ(canonicalUri(c.path), c.canonical_uri);
    EXPECT_EQ(signRequest(suiteRequest("GET", c.path), kSuiteCreds, suiteScope()).signature,
              c.signature);
  }
  // Not in the suite: an already-encoded path is encoded again (every service but S3).
  EXPECT_EQ(canonicalUri("/a%20b"), "/a%2520b");
  EXPECT_EQ(canonicalUri(""), "/");
}

TEST(SigV4Suite, HeaderCanonicalisation) {
  // [C] get-header-value-trim: trimmed, inner runs of spaces collapsed (quotes or not).
  SignedHeaders trim = signRequest(
      suiteRequest("GET", "/", {}, {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}}),
      kSuiteCreds, suiteScope());
  EXPECT_EQ(trim.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
            "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" +
                std::string(kEmptyHash));
  EXPECT_EQ(trim.signature, "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
  // [C] get-header-key-duplicate: repeated names joined with ',' in order.
  SignedHeaders dup = signRequest(
      suiteRequest("GET", "/", {},
                   {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}),
      kSuiteCreds, suiteScope());
  EXPECT_NE(dup.canonical_request.find("\nmy-header1:value2,value2,value1\n"), std::string::npos);
  EXPECT_EQ(dup.signature, "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");
  // [C] post-vanilla and post-header-value-case: names lower-cased, values kept.
  EXPECT_EQ(signRequest(suiteRequest("POST", "/"), kSuiteCreds, suiteScope()).signature,
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
  EXPECT_EQ(signRequest(suiteRequest("POST", "/", {}, {{"My-Header1", "VALUE1"}}), kSuiteCreds,
                        suiteScope())
                .signature,
            "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d");
}

TEST(SigV4Suite, PostXWwwFormUrlencoded) {
  // [JS] post-x-www-form-urlencoded: the payload's hash, the signed content-type. The string
  // to sign's hash is the original suite's .sts.
  SignedHeaders s = signRequest(
      suiteRequest("POST", "/", {}, {{"Content-Type", "application/x-www-form-urlencoded"}},
                   "Param1=value1"),
      kSuiteCreds, suiteScope());
  EXPECT_EQ(s.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
            "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "content-type;host;x-amz-date\n"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
  EXPECT_EQ(s.authorization,
            suiteAuthz("content-type;host;x-amz-date",
                       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"));
  // [JS] post-x-www-form-urlencoded-parameters: the charset parameter is part of the value.
  EXPECT_EQ(signRequest(
                suiteRequest("POST", "/", {},
                             {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}},
                             "Param1=value1"),
                kSuiteCreds, suiteScope())
                .signature,
            "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe");
  // [C] the aws-c-auth form of the case, which also signs content-length and
  // x-amz-content-sha256.
  SignedHeaders c = signRequest(
      suiteRequest("POST", "/", {},
                   {{"Content-Type", "application/x-www-form-urlencoded"},
                    {"Content-Length", "13"},
                    {"X-Amz-Content-Sha256",
                     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"}},
                   "Param1=value1"),
      kSuiteCreds, suiteScope());
  EXPECT_EQ(c.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb");
  EXPECT_EQ(c.signature, "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b");
}

TEST(SigV4Suite, SessionTokenIsSigned) {  // [C] get-vanilla-with-session-token
  Credentials creds = kSuiteCreds;
  creds.session_token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
  SignedHeaders s = signRequest(suiteRequest("GET", "/"), creds, suiteScope());
  EXPECT_EQ(s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
            "x-amz-security-token:" +
                creds.session_token + "\n\nhost;x-amz-date;x-amz-security-token\n" + kEmptyHash);
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b");
  EXPECT_EQ(s.signature, "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
  EXPECT_EQ(s.security_token, creds.session_token);
}

TEST(SigV4, AnythingThatChangesTheRequestChangesTheSignature) {
  SigningRequest base = suiteRequest("POST", "/", {}, {}, "Action=DescribeInstances");
  const std::string sig = signRequest(base, kSuiteCreds, suiteScope()).signature;
  SigningRequest body = base;
  body.payload = "Action=DescribeInstance";
  EXPECT_NE(signRequest(body, kSuiteCreds, suiteScope()).signature, sig);
  SigningScope later = suiteScope();
  later.time += absl::Seconds(1);
  EXPECT_NE(signRequest(base, kSuiteCreds, later).signature, sig);
  SigningScope region = suiteScope();
  region.region = "eu-west-1";
  EXPECT_NE(signRequest(base, kSuiteCreds, region).signature, sig);
}

TEST(SigV4, UriEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(uriEncode("a b+c/d~e", false), "a%20b%2Bc%2Fd~e");
  EXPECT_EQ(uriEncode("a b+c/d~e", true), "a%20b%2Bc/d~e");
  EXPECT_EQ(uriEncode("=&", false), "%3D%26");
}

}  // namespace
}  // namespace quasar::ipam::cloud
