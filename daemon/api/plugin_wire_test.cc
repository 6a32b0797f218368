#include "daemon/api/plugin_wire.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "daemon/api/quasard.pb.h"

namespace quasar::api {
namespace {

class PluginWire : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  void TearDown() override {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  void writeRaw(const std::string& bytes) {
    ASSERT_EQ(::write(fds_[0], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  void closeWriter() {
    ::close(fds_[0]);
    fds_[0] = -1;
  }
  int fds_[2] = {-1, -1};
};

TEST_F(PluginWire, AFrameRoundTripsLargerThanOneReadChunk) {
  v1::PluginRequest sent;
  sent.mutable_allocate()->mutable_attachment()->set_container_id(std::string(200 << 10, 'a'));
  std::string got_id;
  // The writer blocks once the socket buffer is full, so it runs beside the reader.
  std::thread writer([&] { ASSERT_TRUE(writeFrame(fds_[0], sent).ok()); });
  v1::PluginRequest received;
  ASSERT_TRUE(readFrame(fds_[1], received).ok());
  writer.join();
  EXPECT_EQ(received.allocate().attachment().container_id(),
            sent.allocate().attachment().container_id());
}

TEST_F(PluginWire, AHeaderThatPromisesMoreThanArrivesIsDataLoss) {
  // 16 MiB promised, 10 bytes sent, then the peer hangs up.
  writeRaw(std::string("\x01\x00\x00\x00", 4) + std::string(10, 'x'));
  closeWriter();
  v1::PluginRequest received;
  auto s = readFrame(fds_[1], received);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
}

TEST_F(PluginWire, AFrameOverTheLimitIsRefusedBeforeItsBody) {
  writeRaw(std::string("\x01\x00\x00\x01", 4));
  v1::PluginRequest received;
  auto s = readFrame(fds_[1], received);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("frame of"), std::string::npos) << s;
}

TEST_F(PluginWire, ACloseBetweenFramesIsNotFound) {
  closeWriter();
  v1::PluginRequest received;
  EXPECT_TRUE(absl::IsNotFound(readFrame(fds_[1], received)));
}

}  // namespace
}  // namespace quasar::api
