// The planning section's validation: tests/bad/plan/*.yaml each list the
// errors they must produce ("# expect: LINE:COLUMN: text"), like tests/bad.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "polycloud/io/scenario.h"
#include "polycloud/plan/plan.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::plan {
namespace {

namespace fs = std::filesystem;

TEST(PlanningInputTest, EachBadInputReportsEveryErrorWithItsPosition) {
  const fs::path dir = fs::path(POLYCLOUD_SOURCE_DIR) / "tests" / "bad" / "plan";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 3u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    const std::string text = polycloud::testing::ReadTestFile(file);
    std::vector<std::string> expects;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
      if (l.rfind("# expect: ", 0) == 0) expects.push_back(l.substr(10));
    ASSERT_FALSE(expects.empty()) << "no '# expect:' lines";
    const std::string name = file.filename().string();
    auto scenario = io::LoadScenarioString(text, name);
    std::string message;
    if (!scenario.ok()) {
      message = scenario.status().message();
    } else {
      auto inputs = ParsePlanning(text, name, scenario->world);
      ASSERT_FALSE(inputs.ok()) << "a bad planning section parsed";
      EXPECT_EQ(inputs.status().code(), StatusCode::kInvalidInput);
      message = inputs.status().message();
    }
    int lines = 0;
    std::istringstream ms(message);
    for (std::string l; std::getline(ms, l);)
      if (l.rfind(name + ":", 0) == 0) ++lines;
    for (const std::string& e : expects)
      EXPECT_NE(message.find(name + ":" + e), std::string::npos) << "expected \"" << e << "\" in:\n"
                                                                 << message;
    EXPECT_EQ(lines, static_cast<int>(expects.size())) << message;
  }
}

TEST(PlanningInputTest, FlagshipPlanningSectionParses) {
  const std::string path = std::string(POLYCLOUD_SOURCE_DIR) + "/examples/openai-2025.yaml";
  const std::string text = polycloud::testing::ReadTestFile(path);
  auto scenario = io::LoadScenarioString(text, "openai-2025.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status().message();
  auto inputs = ParsePlanning(text, "openai-2025.yaml", scenario->world);
  ASSERT_TRUE(inputs.ok()) << inputs.status().message();
  EXPECT_EQ(inputs->goal, Goal::kBurnCommitments);
  EXPECT_EQ(inputs->burn.size(), 2u);
}

TEST(PlanningInputTest, MissingSectionIsAnError) {
  const std::string text =
      "name: x\nstart: 2026-01-01\nend: 2026-02-01\nproviders: [{id: a}]\n"
      "sites: [{id: s, provider: a}]\npools: []\n";
  auto scenario = io::LoadScenarioString(text, "x.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status().message();
  auto inputs = ParsePlanning(text, "x.yaml", scenario->world);
  ASSERT_FALSE(inputs.ok());
  EXPECT_NE(inputs.status().message().find("no planning: section"), std::string::npos);
}

}  // namespace
}  // namespace polycloud::plan
