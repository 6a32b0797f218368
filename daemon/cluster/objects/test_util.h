#pragma once
// Helpers for the object parsers' tests.

#include <gtest/gtest.h>

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace quasar::objects::testing {

// Parses `text` with `parse`, expecting InvalidArgument whose message holds `fragment`, and no
// exception.
template <class Parse>
void expectRefused(Parse parse, const std::string& text, const std::string& fragment) {
  SCOPED_TRACE(text);
  const nlohmann::json j = nlohmann::json::parse(text);
  try {
    auto r = parse(j);
    ASSERT_FALSE(r.ok()) << "accepted";
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos)
        << r.status().message() << "\n  should mention: " << fragment;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw " << e.what();
  }
}

}  // namespace quasar::objects::testing
