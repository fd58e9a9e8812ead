// ResNet-18 against torchvision (Debian's python3-torchvision): parameter/buffer names and
// shapes must be identical so torchvision weights load 1:1.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <memory>
#include <sstream>

#include "models/model.h"
#include "models/registry.h"

using namespace tinyvit;

namespace {

std::string run(const std::string& cmd) {
  std::array<char, 4096> buf{};
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return out;
  while (fgets(buf.data(), buf.size(), p.get())) out += buf.data();
  return out;
}

}  // namespace

TEST(ResNet, StateDictMatchesTorchvisionResnet18) {
  const std::string py =
      "/usr/bin/python3 -c \"import torchvision; m = torchvision.models.resnet18(num_classes=10)\n"
      "for k, v in m.state_dict().items():\n"
      "  print(k, *v.shape)\"";
  const std::string out = run(py);
  ASSERT_FALSE(out.empty()) << "could not run /usr/bin/python3 with torchvision "
                               "(run scripts/install-deps.sh --test)";
  std::ostringstream ours;
  auto m = models::build_model(models::model_config("resnet18", 10));
  // torchvision's state_dict order: parameters and buffers interleaved per module; compare as
  // sorted sets of "name dims" lines.
  std::vector<std::string> mine, theirs;
  for (const auto& p : m->named_parameters()) {
    std::string l = p.key();
    for (auto s : p.value().sizes()) l += " " + std::to_string(s);
    mine.push_back(l);
  }
  for (const auto& b : m->named_buffers()) {
    std::string l = b.key();
    for (auto s : b.value().sizes()) l += " " + std::to_string(s);
    mine.push_back(l);
  }
  std::istringstream is(out);
  for (std::string line; std::getline(is, line);)
    if (!line.empty()) theirs.push_back(line.back() == ' ' ? line.substr(0, line.size() - 1) : line);
  std::sort(mine.begin(), mine.end());
  std::sort(theirs.begin(), theirs.end());
  EXPECT_EQ(mine, theirs);
}

TEST(ResNet, CifarStemKeepsResolution) {
  auto c = models::model_config("resnet18_cifar", 10);
  auto m = models::build_model(c);
  m->eval();
  auto y = m->forward(torch::randn({2, 3, 32, 32}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 10}));
  auto imagenet = models::build_model(models::model_config("resnet18", 10));
  EXPECT_EQ(imagenet->named_parameters()["conv1.weight"].sizes(),
            (std::vector<int64_t>{64, 3, 7, 7}));
  EXPECT_EQ(m->named_parameters()["conv1.weight"].sizes(), (std::vector<int64_t>{64, 3, 3, 3}));
}
