#include "ipam/attachment_validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace quasar::ipam {
namespace {

absl::Status checkContainerId(const std::string& id) {
  if (id.empty() || id.size() > kMaxContainerIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("container ID must be 1..", kMaxContainerIdLength, " bytes, got ", id.size()));
  }
  if (!absl::ascii_isalnum(static_cast<unsigned char>(id[0]))) {
    return absl::InvalidArgumentError("container ID must start with a letter or digit");
  }
  for (unsigned char c : id) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') {
      return absl::InvalidArgumentError(
          "container ID may hold only letters, digits, '_', '.' and '-'");
    }
  }
  return absl::OkStatus();
}

absl::Status checkIfname(const std::string& name) {
  if (name.empty() || name.size() > kMaxIfnameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("interface name must be 1..", kMaxIfnameLength, " bytes, got ", name.size()));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError("interface name must not be \".\" or \"..\"");
  }
  for (unsigned char c : name) {
    // A NUL would cut the name short in the kernel; other control bytes have no place either.
    if (c == '/' || c == ':' || absl::ascii_isspace(c) || absl::ascii_iscntrl(c)) {
      return absl::InvalidArgumentError(
          "interface name must not hold '/', ':', whitespace or control characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status validateAttachment(const Attachment& attachment) {
  if (auto s = checkContainerId(attachment.container_id); !s.ok()) return s;
  return checkIfname(attachment.ifname);
}

}  // namespace quasar::ipam
