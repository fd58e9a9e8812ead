// On/off switches (--hflip / --no-hflip): what they set, that the last one given wins, and
// that `--help` shows both forms with the default instead of CLI11's "{false}".
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <sys/wait.h>

#include "cli/commands.h"
#include "cli/options.h"

using namespace tinyvit;

namespace {

// Parses argv (without the program name) into a fresh app holding one switch `--x`.
bool parse_switch(bool initial, std::vector<std::string> args) {
  CLI::App app{"t"};
  bool x = initial;
  cli::add_switch(&app, "x", x, "Thing");
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  app.parse(args);
  return x;
}

std::string help_of(const std::string& command) {
  CLI::App app{"tinyvit"};
  cli::register_train_command(app);
  cli::register_quantize_command(app);
  return app.get_subcommand(command)->help();
}

}  // namespace

TEST(CliSwitch, OnOffAndAbsentKeepsTheDefault) {
  EXPECT_TRUE(parse_switch(true, {}));
  EXPECT_FALSE(parse_switch(false, {}));
  EXPECT_FALSE(parse_switch(true, {"--no-x"}));
  EXPECT_TRUE(parse_switch(false, {"--x"}));
  EXPECT_TRUE(parse_switch(true, {"--x"}));
  // The last one wins, whatever the order the two were registered in.
  EXPECT_FALSE(parse_switch(true, {"--x", "--no-x"}));
  EXPECT_TRUE(parse_switch(true, {"--no-x", "--x"}));
  EXPECT_FALSE(parse_switch(false, {"--no-x", "--x", "--no-x"}));
}

TEST(CliSwitch, HelpShowsBothFormsAndTheDefault) {
  const std::string train = help_of("train");
  for (const char* s : {"--random-crop", "--no-random-crop", "--hflip", "--no-hflip",
                        "--channels-last", "--no-channels-last",
                        "Random crop with padding (default: on)",
                        "Random horizontal flip (default: on)",
                        "NHWC memory format (faster convolutions on CPU) (default: off)"})
    EXPECT_NE(train.find(s), std::string::npos) << "train --help lacks '" << s << "':\n" << train;
  const std::string quantize = help_of("quantize");
  EXPECT_NE(quantize.find("--no-rotate"), std::string::npos) << quantize;
  EXPECT_NE(quantize.find("(ResNets: ignored) (default: on)"), std::string::npos) << quantize;
  // CLI11's rendering of "--x,!--no-x" ("--hflip,--no-hflip{false}") read as "default off".
  EXPECT_EQ(train.find("{false}"), std::string::npos) << train;
  EXPECT_EQ(quantize.find("{false}"), std::string::npos) << quantize;
}

// `tinyvit` without a command prints the command list (exit status 1), not only CLI11's
// "A subcommand is required".
TEST(CliMain, NoCommandPrintsTheCommands) {
  const std::string cmd = std::string(TINYVIT_BINARY_DIR) + "/tinyvit 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  for (const char* s : {"Usage: tinyvit", "pipeline", "distill", "quantize", "export", "predict"})
    EXPECT_NE(out.find(s), std::string::npos) << "missing '" << s << "':\n" << out;
}
