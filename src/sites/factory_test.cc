#include "polycloud/sites/factory.h"

#include <gtest/gtest.h>

#include "polycloud/sites/local.h"
#include "polycloud/sites/sim.h"
#include "polycloud/sites/slurm.h"

namespace polycloud::sites {
namespace {

SiteDriverConfig Config(std::string site, std::string backend,
                        std::map<std::string, std::string> options = {}) {
  SiteDriverConfig c;
  c.site = std::move(site);
  c.backend = std::move(backend);
  c.options = std::move(options);
  return c;
}

Status MakeStatus(const SiteDriverConfig& c) {
  VirtualClock clock(Time::FromUnixSeconds(0));
  Result<std::unique_ptr<SiteDriver>> d = MakeSiteDriver(c, clock);
  return d.ok() ? Status::Ok() : d.status();
}

TEST(MakeSiteDriverTest, MakesEachBackEnd) {
  VirtualClock clock(Time::FromUnixSeconds(0));
  auto sim = MakeSiteDriver(Config("s", "sim"), clock);
  ASSERT_TRUE(sim.ok());
  EXPECT_NE(dynamic_cast<SimDriver*>(sim->get()), nullptr);
  auto local =
      MakeSiteDriver(Config("l", "local", {{"kill_grace", "5s"}, {"adopt", "false"}}), clock);
  ASSERT_TRUE(local.ok()) << local.status().message();
  EXPECT_NE(dynamic_cast<LocalDriver*>(local->get()), nullptr);
  auto slurm = MakeSiteDriver(Config("alpha", "slurm",
                                     {{"slurm_conf", "/etc/hostname"},
                                      {"history", "jobcomp"},
                                      {"timeout", "5s"},
                                      {"time_limit", "true"},
                                      {"sbatch_args", " --account=lab  --qos=high "}}),
                              clock);
  ASSERT_TRUE(slurm.ok()) << slurm.status().message();
  const auto* driver = dynamic_cast<SlurmDriver*>(slurm->get());
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(driver->options().history, SlurmHistory::kJobcomp);
  EXPECT_EQ(driver->options().timeout, std::chrono::seconds(5));
  EXPECT_TRUE(driver->options().time_limit);
  EXPECT_EQ(driver->options().sbatch_args,
            (std::vector<std::string>{"--account=lab", "--qos=high"}));
}

TEST(MakeSiteDriverTest, ErrorsNameTheSiteAndTheBadPart) {
  struct Case {
    SiteDriverConfig config;
    const char* message;
  };
  const Case cases[] = {
      {Config("a", "kubernetes"),
       "site \"a\": unknown back end \"kubernetes\" (slurm, local or sim)"},
      {Config("", "sim"), "empty site id"},
      {Config("a", "sim", {{"x", "1"}}),
       "site \"a\": unknown option \"x\" for the sim back end (it takes none)"},
      {Config("a", "slurm"), "needs option slurm_conf"},
      {Config("a", "slurm", {{"slurm_conf", "/nonexistent/slurm.conf"}}),
       "option slurm_conf: \"/nonexistent/slurm.conf\" is not a file"},
      {Config("a", "slurm", {{"slurm_conf", "/etc"}}), "is not a file"},
      {Config("a", "slurm", {{"slurm_conf", "/etc/hostname"}, {"history", "slurmdbd"}}),
       "option history: expected sacct, jobcomp or none, found \"slurmdbd\""},
      {Config("a", "slurm", {{"slurm_conf", "/etc/hostname"}, {"timeout", "30"}}),
       "option timeout: expected a positive duration like 30s or 7d, found \"30\""},
      {Config("a", "slurm", {{"slurm_conf", "/etc/hostname"}, {"ping", "yes"}}),
       "option ping: expected true or false, found \"yes\""},
      {Config("a", "slurm", {{"slurm_conf", "/etc/hostname"}, {"partition", "gpu"}}),
       "unknown option \"partition\" for the slurm back end (known: "},
      {Config("a", "local", {{"kill_grace", "0s"}}),
       "option kill_grace: expected a positive duration"},
  };
  for (const Case& c : cases) {
    Status s = MakeStatus(c.config);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.message;
    EXPECT_NE(s.message().find(c.message), std::string::npos)
        << s.message() << "\nwanted: " << c.message;
  }
}

}  // namespace
}  // namespace polycloud::sites
