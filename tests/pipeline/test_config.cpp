// Pipeline configuration: presets parse, typos are errors that name the key, round trip.
#include <gtest/gtest.h>

#include "common/error.h"
#include "pipeline/config.h"
#include "quantize/ptq.h"

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
  EXPECT_EQ(q.data.train_limit, 4000);  // the seed project's 4,000 training images
  EXPECT_EQ(q.student.train.distill.temperature, 4.0);
  EXPECT_THROW(preset_toml("slow"), Error);
  auto sm = parse_pipeline_config(preset_toml("smoke"), "smoke");
  EXPECT_TRUE(sm.prune.enabled);
  EXPECT_TRUE(sm.quantize.enabled);
  EXPECT_EQ(sm.quantize.method, "minmax");
  EXPECT_DOUBLE_EQ(sm.prune.job.opt.mlp, 0.5);
  EXPECT_EQ(sm.prune.job.stage.train.epochs, 1);
  EXPECT_EQ(sm.prune.job.stage.train.max_steps_per_epoch, 3);
  EXPECT_TRUE(q.quantize.enabled);
  EXPECT_EQ(q.quantize.calib_size, 256);
  EXPECT_TRUE(q.prune.enabled);
  EXPECT_GT(q.prune.job.stage.train.max_steps_per_epoch, 0);  // quick's budget
}

TEST(Config, PruneAndQuantizeAreOffByDefaultWithTheCommandsDefaults) {
  auto c = parse_pipeline_config("", "empty");
  EXPECT_FALSE(c.prune.enabled);
  EXPECT_FALSE(c.quantize.enabled);
  PruneJob cli;  // what `tinyvit prune` starts from
  EXPECT_EQ(c.prune.job.stage.train.epochs, cli.stage.train.epochs);
  EXPECT_DOUBLE_EQ(c.prune.job.stage.train.lr, cli.stage.train.lr);
  EXPECT_EQ(c.prune.job.criterion, "l1");
  EXPECT_EQ(c.quantize.method, "percentile");
  EXPECT_EQ(c.quantize.calib_size, 512);
  EXPECT_TRUE(c.quantize.rotate);  // quantize::PtqOptions::rotate
  EXPECT_EQ(c.quantize.rotate, quantize::PtqOptions{}.rotate);
  const quantize::PtqOptions ptq;
  EXPECT_EQ(c.quantize.qat_steps, ptq.qat_steps);
  EXPECT_DOUBLE_EQ(c.quantize.qat_lr, ptq.qat_lr);
  EXPECT_DOUBLE_EQ(c.quantize.qat_alpha, ptq.qat_alpha);
  EXPECT_EQ(c.quantize.qat_augment, ptq.qat_augment);
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
  EXPECT_NE(error_of("[quantize]\ncalib_sise = 8\n").find("unknown key 'calib_sise' in [quantize]"),
            std::string::npos);
  EXPECT_NE(error_of("[prune]\nhead = 0.5\n").find("unknown key 'head' in [prune]"),
            std::string::npos);
  EXPECT_NE(error_of("[quantize]\nmethod = \"max\"\n").find("[quantize] method must be"),
            std::string::npos);
  EXPECT_NE(error_of("[quantize]\nio = \"int16\"\n").find("[quantize] io must be"),
            std::string::npos);
  EXPECT_NE(error_of("[quantize]\nqat_alpha = 1.5\n").find("qat_alpha in [0, 1]"),
            std::string::npos);
  EXPECT_NE(error_of("[prune]\ncriterion = \"l0\"\n").find("[prune] criterion must be"),
            std::string::npos);
  EXPECT_NE(error_of("[student]\nprecision = \"fp16\"\n")
                .find("[student] precision must be \"fp32\" | \"bf16\" | \"auto\", got \"fp16\""),
            std::string::npos);
  EXPECT_NE(error_of("[prune]\nprecision = \"bfloat16\"\n").find("[prune] precision must be"),
            std::string::npos);
  EXPECT_NE(error_of("[prune]\nmlp = 1.5\n").find("[prune] heads and mlp"), std::string::npos);
  EXPECT_NE(error_of("[prune]\nrecover_epochs = \"2\"\n").find("[prune] recover_epochs must be an integer"),
            std::string::npos);
}

// Out-of-range numbers are refused at load time with the key, the rule and the value (a
// negative lr reached LibTorch's optimizer before: "Invalid learning rate: -1").
TEST(Config, OutOfRangeNumbersAreErrorsNamingTheKeyAndTheValue) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[teacher]\nlr = -1.0\n", "[teacher] lr must be > 0 (got -1)"},
      {"[student]\nbatch_size = 0\n", "[student] batch_size must be >= 1 (got 0)"},
      {"[student]\nalpha = 1.5\n", "[student] alpha must be in [0, 1] (got 1.5)"},
      {"[student]\ntemperature = 0.0\n", "[student] temperature must be > 0 (got 0)"},
      {"[teacher]\nlabel_smoothing = 1.0\n", "[teacher] label_smoothing must be in [0, 1)"},
      {"[student]\nrandaugment_magnitude = 15\n", "randaugment_magnitude must be in [0, 10]"},
      {"[student]\ndrop_path = 1.0\n", "[student] drop_path must be in [0, 1)"},
      {"[teacher]\nmin_lr = 1.0\n", "[teacher] min_lr must be in [0, lr]"},
      {"[teacher]\nepochs = -2\n", "[teacher] epochs must be >= 0 (got -2)"},
      {"[student]\nlr = nan\n", "[student] lr must be > 0 (got nan)"},
  };
  for (const auto& [toml, want] : cases)
    EXPECT_NE(error_of(toml).find(want), std::string::npos) << toml << " -> " << error_of(toml);
}

TEST(Config, ResolvedTomlRoundTrips) {
  auto c = parse_pipeline_config("[run]\nname = \"x\"\n[student]\nalpha = 0.7\nhard = true\n", "t");
  const std::string once = to_toml(c);
  auto c2 = parse_pipeline_config(once, "resolved");
  EXPECT_EQ(to_toml(c2), once);
  EXPECT_DOUBLE_EQ(c2.student.train.distill.alpha, 0.7);
  EXPECT_TRUE(c2.student.train.distill.hard);
  EXPECT_EQ(c2.out, "runs/x");

  // The optional stages' tables are written too (the run directory's change check uses them).
  auto p = parse_pipeline_config(
      "[prune]\nenabled = true\nmlp = 0.5\nrecover_epochs = 2\nlr = 3e-4\n"
      "[quantize]\nenabled = true\nmethod = \"minmax\"\ncalib_size = 64\nio = \"uint8\"\n"
      "rotate = false\nqat_steps = 3\nqat_images = 100\nqat_augment = true\n",
      "t");
  const std::string pt = to_toml(p);
  EXPECT_NE(pt.find("[prune]"), std::string::npos) << pt;
  EXPECT_NE(pt.find("[quantize]"), std::string::npos) << pt;
  auto p2 = parse_pipeline_config(pt, "resolved");
  EXPECT_EQ(to_toml(p2), pt);
  EXPECT_TRUE(p2.prune.enabled);
  EXPECT_DOUBLE_EQ(p2.prune.job.opt.mlp, 0.5);
  EXPECT_EQ(p2.prune.job.stage.train.epochs, 2);
  EXPECT_FLOAT_EQ(static_cast<float>(p2.prune.job.stage.train.lr), 3e-4f);
  EXPECT_TRUE(p2.quantize.enabled);
  EXPECT_EQ(p2.quantize.method, "minmax");
  EXPECT_EQ(p2.quantize.calib_size, 64);
  EXPECT_EQ(p2.quantize.io, "uint8");
  EXPECT_FALSE(p2.quantize.rotate);
  EXPECT_EQ(p2.quantize.qat_steps, 3);
  EXPECT_EQ(p2.quantize.qat_images, 100);
  EXPECT_TRUE(p2.quantize.qat_augment);
  EXPECT_NE(to_toml(p2), to_toml(parse_pipeline_config("", "t")));
}
