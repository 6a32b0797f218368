#include "daemon/kube/watch_event.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/kube/api_status.h"

namespace quasar::kube {
namespace {

std::vector<std::string> feedAll(LineSplitter& s, const std::vector<std::string>& chunks) {
  std::vector<std::string> lines;
  for (const auto& c : chunks) {
    absl::Status st = s.feed(c, [&](absl::string_view l) {
      lines.emplace_back(l);
      return absl::OkStatus();
    });
    EXPECT_TRUE(st.ok()) << st;
  }
  return lines;
}

TEST(LineSplitter, JoinsPartialChunks) {
  LineSplitter s;
  EXPECT_EQ(feedAll(s, {"{\"a\"", ":1}", "\n{\"b\":2", "}\n"}),
            (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(s.pending(), 0u);
}

TEST(LineSplitter, ManyLinesInOneChunkAndBlankLines) {
  LineSplitter s;
  EXPECT_EQ(feedAll(s, {"one\ntwo\r\n\nthree\nfour"}),
            (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(s.pending(), 4u);
  EXPECT_EQ(feedAll(s, {"\n"}), std::vector<std::string>{"four"});
}

TEST(LineSplitter, ByteByByte) {
  LineSplitter s;
  std::vector<std::string> chunks;
  for (char c : std::string("ab\ncd\n")) chunks.emplace_back(1, c);
  EXPECT_EQ(feedAll(s, chunks), (std::vector<std::string>{"ab", "cd"}));
}

TEST(LineSplitter, StopsAtTheCallbacksErrorAndBoundsLines) {
  LineSplitter s;
  int calls = 0;
  absl::Status st = s.feed("a\nb\nc\n", [&](absl::string_view) {
    return ++calls == 2 ? absl::AbortedError("enough") : absl::OkStatus();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(calls, 2);
  LineSplitter small(8);
  st = small.feed("0123", [](absl::string_view) { return absl::OkStatus(); });
  EXPECT_TRUE(st.ok());
  st = small.feed("456789", [](absl::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
}

TEST(WatchEvent, ParsesTypesAndObjects) {
  auto ev = parseWatchEvent(
      R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"p","namespace":"n","resourceVersion":"12"}}})");
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->type, EventType::kAdded);
  EXPECT_EQ(resourceVersionOf(ev->object), "12");
  EXPECT_EQ(objectKey(ev->object), "n/p");
  ev = parseWatchEvent(R"({"type":"DELETED","object":{"metadata":{"name":"node1"}}})");
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->type, EventType::kDeleted);
  EXPECT_EQ(objectKey(ev->object), "node1");
  for (const char* bad : {"", "[]", "{}", R"({"type":"ADDED"})", R"({"type":"X","object":{}})",
                          R"({"type":"ADDED","object":[]})", "{\"type\":"}) {
    EXPECT_FALSE(parseWatchEvent(bad).ok()) << bad;
  }
}

TEST(WatchEvent, Bookmark) {
  // As the real server sends it for pods.
  auto ev = parseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"5170","creationTimestamp":null},"spec":{"containers":null},"status":{}}})");
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->type, EventType::kBookmark);
  EXPECT_EQ(resourceVersionOf(ev->object), "5170");
  EXPECT_EQ(objectKey(ev->object), "");
}

TEST(WatchEvent, Error410IsExpired) {
  auto ev = parseWatchEvent(
      R"json({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (10)","reason":"Expired","code":410}})json");
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->type, EventType::kError);
  absl::Status s = watchErrorStatus(ev->object, "watch /api/v1/pods");
  EXPECT_TRUE(isExpired(s)) << s;
  EXPECT_NE(s.message().find("too old resource version"), std::string::npos) << s;
  s = watchErrorStatus(nlohmann::json{{"kind", "Status"}, {"code", 500}}, "w");
  EXPECT_FALSE(isExpired(s));
  EXPECT_TRUE(isRetryable(s));
}

TEST(ApiStatus, MapsHttpCodes) {
  const std::string body404 =
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"x\" not found","reason":"NotFound","code":404})";
  absl::Status s = statusFromHttp(404, body404, "GET /api/v1/namespaces/d/pods/x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            "GET /api/v1/namespaces/d/pods/x: HTTP 404 NotFound: pods \"x\" not found");
  EXPECT_EQ(statusFromHttp(401, "", "x").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(statusFromHttp(403, "", "x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(statusFromHttp(409, R"({"kind":"Status","reason":"AlreadyExists"})", "x").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(statusFromHttp(409, R"({"kind":"Status","reason":"Conflict"})", "x").code(),
            absl::StatusCode::kAborted);
  EXPECT_TRUE(isExpired(statusFromHttp(410, "", "x")));
  EXPECT_TRUE(isRetryable(statusFromHttp(429, "", "x")));
  EXPECT_TRUE(isRetryable(statusFromHttp(503, "<html>", "x")));
  EXPECT_TRUE(isRetryable(statusFromHttp(504, "", "x")));
  EXPECT_FALSE(isRetryable(statusFromHttp(400, "", "x")));
  EXPECT_EQ(statusFromHttp(422, "", "x").code(), absl::StatusCode::kInvalidArgument);
  // A non-Status body is quoted, shortened and valid UTF-8.
  s = statusFromHttp(502, std::string(500, 'z') + "\xff", "x");
  EXPECT_LT(s.message().size(), 300u);
}

}  // namespace
}  // namespace quasar::kube
