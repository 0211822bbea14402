#include "polycloud/sites/factory.h"

#include <sys/stat.h>

#include <set>
#include <sstream>

#include "polycloud/base/parse.h"
#include "polycloud/base/text.h"
#include "polycloud/sites/local.h"
#include "polycloud/sites/sim.h"
#include "polycloud/sites/slurm.h"

namespace polycloud::sites {
namespace {

// Reads a site's options, each at most once, and reports what is left over.
class OptionReader {
 public:
  OptionReader(const SiteDriverConfig& config) : config_(config) {}  // NOLINT

  const std::string* Get(const std::string& key) {
    known_.insert(key);
    auto it = config_.options.find(key);
    return it == config_.options.end() ? nullptr : &it->second;
  }

  Status String(const std::string& key, std::string* out) {
    if (const std::string* v = Get(key)) *out = *v;
    return Status::Ok();
  }

  Status Bool(const std::string& key, bool* out) {
    const std::string* v = Get(key);
    if (v == nullptr) return Status::Ok();
    if (*v == "true") {
      *out = true;
    } else if (*v == "false") {
      *out = false;
    } else {
      return Bad(key, "true or false", *v);
    }
    return Status::Ok();
  }

  Status Positive(const std::string& key, Duration* out) {
    const std::string* v = Get(key);
    if (v == nullptr) return Status::Ok();
    Result<Duration> d = ParseDuration(*v);
    if (!d.ok() || d->seconds() <= 0) return Bad(key, "a positive duration like 30s or 7d", *v);
    *out = *d;
    return Status::Ok();
  }

  Status Millis(const std::string& key, std::chrono::milliseconds* out) {
    if (Get(key) == nullptr) return Status::Ok();
    Duration d;
    POLYCLOUD_RETURN_IF_ERROR(Positive(key, &d));
    *out = std::chrono::seconds(d.seconds());
    return Status::Ok();
  }

  Status Bad(const std::string& key, const std::string& expected, const std::string& found) const {
    return InvalidArgument(Where() + "option " + key + ": expected " + expected + ", found " +
                           QuoteExcerpt(found));
  }

  // Every option given was read; otherwise the first unknown one, with the known.
  Status Finish() const {
    for (const auto& [key, value] : config_.options) {
      if (known_.count(key) != 0) continue;
      std::string known;
      for (const std::string& k : known_) known += (known.empty() ? "" : ", ") + k;
      return InvalidArgument(Where() + "unknown option " + QuoteExcerpt(key) + " for the " +
                             config_.backend + " back end" +
                             (known.empty() ? " (it takes none)" : " (known: " + known + ")"));
    }
    return Status::Ok();
  }

  std::string Where() const { return "site " + QuoteExcerpt(config_.site) + ": "; }

 private:
  const SiteDriverConfig& config_;
  std::set<std::string> known_;
};

std::vector<std::string> SplitWords(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

Result<std::unique_ptr<SiteDriver>> MakeSlurm(OptionReader& r) {
  SlurmOptions o;
  const std::string* conf = r.Get("slurm_conf");
  if (conf == nullptr || conf->empty()) {
    return InvalidArgument(r.Where() +
                           "the slurm back end needs option slurm_conf (the "
                           "cluster's slurm.conf)");
  }
  struct stat st {};
  if (::stat(conf->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument(r.Where() + "option slurm_conf: " + QuoteExcerpt(*conf, 200) +
                           " is not a file");
  }
  o.slurm_conf = *conf;
  if (const std::string* h = r.Get("history")) {
    if (*h == "sacct") {
      o.history = SlurmHistory::kSacct;
    } else if (*h == "jobcomp") {
      o.history = SlurmHistory::kJobcomp;
    } else if (*h == "none") {
      o.history = SlurmHistory::kNone;
    } else {
      return r.Bad("history", "sacct, jobcomp or none", *h);
    }
  }
  POLYCLOUD_RETURN_IF_ERROR(r.Positive("history_window", &o.history_window));
  POLYCLOUD_RETURN_IF_ERROR(r.Millis("timeout", &o.timeout));
  POLYCLOUD_RETURN_IF_ERROR(r.Bool("ping", &o.ping));
  POLYCLOUD_RETURN_IF_ERROR(r.Bool("time_limit", &o.time_limit));
  POLYCLOUD_RETURN_IF_ERROR(r.Bool("requeue", &o.requeue));
  POLYCLOUD_RETURN_IF_ERROR(r.String("output", &o.output));
  POLYCLOUD_RETURN_IF_ERROR(r.String("workdir", &o.workdir));
  POLYCLOUD_RETURN_IF_ERROR(r.String("path", &o.path));
  if (const std::string* args = r.Get("sbatch_args")) o.sbatch_args = SplitWords(*args);
  POLYCLOUD_RETURN_IF_ERROR(r.Finish());
  return std::unique_ptr<SiteDriver>(new SlurmDriver(std::move(o)));
}

Result<std::unique_ptr<SiteDriver>> MakeLocal(OptionReader& r, const std::string& site,
                                              const Clock& clock) {
  LocalOptions o;
  o.site = site;
  POLYCLOUD_RETURN_IF_ERROR(r.String("output_dir", &o.output_dir));
  POLYCLOUD_RETURN_IF_ERROR(r.String("workdir", &o.workdir));
  POLYCLOUD_RETURN_IF_ERROR(r.String("shell", &o.shell));
  POLYCLOUD_RETURN_IF_ERROR(r.Millis("kill_grace", &o.kill_grace));
  POLYCLOUD_RETURN_IF_ERROR(r.String("path", &o.path));
  POLYCLOUD_RETURN_IF_ERROR(r.Bool("adopt", &o.adopt));
  POLYCLOUD_RETURN_IF_ERROR(r.Finish());
  return std::unique_ptr<SiteDriver>(new LocalDriver(std::move(o), clock));
}

}  // namespace

Result<std::unique_ptr<SiteDriver>> MakeSiteDriver(const SiteDriverConfig& config,
                                                   const Clock& clock) {
  OptionReader reader(config);
  if (config.site.empty()) return InvalidArgument("site driver: empty site id");
  if (config.backend == "slurm") return MakeSlurm(reader);
  if (config.backend == "local") return MakeLocal(reader, config.site, clock);
  if (config.backend == "sim") {
    POLYCLOUD_RETURN_IF_ERROR(reader.Finish());
    return std::unique_ptr<SiteDriver>(new SimDriver(clock));
  }
  return InvalidArgument(reader.Where() + "unknown back end " + QuoteExcerpt(config.backend) +
                         " (slurm, local or sim)");
}

}  // namespace polycloud::sites
