#include "polycloud/traces/accelerator_names.h"

#include <gtest/gtest.h>

namespace polycloud::traces {
namespace {

std::string NameOf(const AcceleratorNames& names, std::string_view trace_name) {
  world::AcceleratorIndex index = names.Resolve(trace_name);
  return index == world::kNone ? "<none>" : names.at(index).name;
}

TEST(AcceleratorNamesTest, ResolvesBuiltinNamesIgnoringCaseAndSeparators) {
  AcceleratorNames names;
  EXPECT_EQ(NameOf(names, "H100"), "H100");
  EXPECT_EQ(NameOf(names, "h100"), "H100");
  EXPECT_EQ(NameOf(names, "trainium2"), "Trainium2");
  EXPECT_EQ(NameOf(names, "a100_80gb"), "A100");
  EXPECT_EQ(NameOf(names, "H100 SXM"), "H100");
}

TEST(AcceleratorNamesTest, MapsTraceVariantsToTheNearestBuiltin) {
  AcceleratorNames names;
  EXPECT_EQ(NameOf(names, "A100-80GB"), "A100");
  EXPECT_EQ(NameOf(names, "A100-SXM4-80GB"), "A100");
  EXPECT_EQ(NameOf(names, "A800-SXM4-80GB"), "A100");
  EXPECT_EQ(NameOf(names, "H800"), "H100");
  EXPECT_EQ(NameOf(names, "H100-MEGA"), "H100");
  EXPECT_EQ(NameOf(names, "V100-32GB"), "V100");
  EXPECT_EQ(NameOf(names, "V100M16"), "V100");
  EXPECT_EQ(NameOf(names, "P40"), "P100");
  EXPECT_EQ(NameOf(names, "G2"), "V100");
  EXPECT_EQ(NameOf(names, "GPU-series-1"), "A100");
  EXPECT_EQ(NameOf(names, "A10"), "A10");
  EXPECT_EQ(NameOf(names, "T4"), "T4");
}

TEST(AcceleratorNamesTest, UnknownNamesResolveToNone) {
  AcceleratorNames names;
  EXPECT_EQ(names.Resolve("RTX4090"), world::kNone);
  EXPECT_EQ(names.Resolve(""), world::kNone);
}

TEST(AcceleratorNamesTest, CallerSuppliedAcceleratorWinsOverAlias) {
  AcceleratorNames names;
  ASSERT_TRUE(names.AddAccelerator({"P40", 24, Power::Watts(250), 70, Power()}).ok());
  EXPECT_EQ(NameOf(names, "P40"), "P40");
  EXPECT_EQ(names.at(names.Resolve("p40")).speed_milli, 70);
  EXPECT_FALSE(names.AddAccelerator({"p40", 24, Power::Watts(250), 70, Power()}).ok());
}

TEST(AcceleratorNamesTest, AddAliasNeedsATableTarget) {
  AcceleratorNames names;
  ASSERT_TRUE(names.AddAlias("RTX6000", "A10").ok());
  EXPECT_EQ(NameOf(names, "RTX6000"), "A10");
  Status status = names.AddAlias("X", "NoSuchGpu");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "alias X -> NoSuchGpu: no accelerator named 'NoSuchGpu' in the table");
}

TEST(AcceleratorNamesTest, KeepDistinctCopiesSpecsUnderTheTraceName) {
  AcceleratorNames names;
  ASSERT_TRUE(names.KeepDistinct("V100M32").ok());
  world::AcceleratorIndex v100m32 = names.Resolve("V100M32");
  EXPECT_EQ(names.at(v100m32).name, "V100M32");
  EXPECT_EQ(names.at(v100m32).speed_milli, names.at(names.Resolve("V100")).speed_milli);
  EXPECT_NE(v100m32, names.Resolve("V100M16"));
  EXPECT_FALSE(names.KeepDistinct("RTX4090").ok());
}

TEST(AcceleratorNamesTest, EveryDefaultAliasTargetsABuiltin) {
  AcceleratorNames names;
  for (const AcceleratorAlias& alias : AcceleratorNames::DefaultAliases()) {
    EXPECT_NE(names.Resolve(alias.trace_name), world::kNone) << alias.trace_name;
    EXPECT_EQ(NameOf(names, alias.trace_name), alias.table_name) << alias.trace_name;
    EXPECT_FALSE(alias.why.empty());
  }
}

TEST(AcceleratorNamesTest, CustomTableDropsAliasesWithoutTarget) {
  AcceleratorNames names({{"H100", 80, Power::Watts(700), 1000, Power()}});
  EXPECT_EQ(NameOf(names, "H800"), "H100");
  EXPECT_EQ(names.Resolve("P40"), world::kNone);
}

}  // namespace
}  // namespace polycloud::traces
