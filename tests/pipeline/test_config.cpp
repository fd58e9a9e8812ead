// Pipeline configuration: presets parse, typos are errors that name the key, round trip.
#include <gtest/gtest.h>

#include "common/error.h"
#include "pipeline/config.h"

using namespace tinyvit;
using namespace tinyvit::pipeline;

namespace {
std::string error_of(const std::string& toml) {
  try {
    parse_pipeline_config(toml, "test.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, PresetsParse) {
  for (const auto& n : preset_names()) {
    SCOPED_TRACE(n);
    auto c = parse_pipeline_config(preset_toml(n), n);
    EXPECT_EQ(c.name, n);
    EXPECT_EQ(c.out, "runs/" + n);
    EXPECT_FALSE(c.teacher.model.empty());
    EXPECT_FALSE(c.student.model.empty());
  }
  auto q = parse_pipeline_config(preset_toml("quick"), "quick");
  EXPECT_EQ(q.data.train_limit, 5000);
  EXPECT_EQ(q.student.train.distill.temperature, 4.0);
  EXPECT_THROW(preset_toml("slow"), Error);
}

TEST(Config, TyposAndWrongTypesAreErrorsNamingTheKey) {
  EXPECT_NE(error_of("[teacher]\nepochz = 3\n").find("unknown key 'epochz' in [teacher]"),
            std::string::npos);
  EXPECT_NE(error_of("[techer]\nepochs = 3\n").find("unknown section [techer]"), std::string::npos);
  EXPECT_NE(error_of("[student]\nlr = \"fast\"\n").find("[student] lr must be a number"),
            std::string::npos);
  EXPECT_NE(error_of("[data]\nval_size = 1.5\n").find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of("[run\nname = 1\n").find("test.toml:1"), std::string::npos);
  EXPECT_NE(error_of("[export]\ntarget = \"tfl\"\n").find("target"), std::string::npos);
}

TEST(Config, ResolvedTomlRoundTrips) {
  auto c = parse_pipeline_config("[run]\nname = \"x\"\n[student]\nalpha = 0.7\nhard = true\n", "t");
  const std::string once = to_toml(c);
  auto c2 = parse_pipeline_config(once, "resolved");
  EXPECT_EQ(to_toml(c2), once);
  EXPECT_DOUBLE_EQ(c2.student.train.distill.alpha, 0.7);
  EXPECT_TRUE(c2.student.train.distill.hard);
  EXPECT_EQ(c2.out, "runs/x");
}
