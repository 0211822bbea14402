#include "polycloud/sites/naming.h"

#include "polycloud/base/text.h"

namespace polycloud::sites {
namespace {

constexpr std::string_view kPrefix = "pc-";
constexpr std::string_view kRunMark = "-r";
constexpr char kHex[] = "0123456789ABCDEF";

bool IsPlain(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

int HexValue(char c) {  // upper-case only: one spelling per byte
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status Bad(std::string_view name, std::string_view why) {
  return InvalidInput("site job name " + QuoteExcerpt(name) + ": " + std::string(why));
}

Result<uint32_t> ParseRun(std::string_view name, std::string_view digits) {
  if (digits.empty()) return Bad(name, "expected a run number after \"-r\"");
  if (digits.size() > 1 && digits[0] == '0') return Bad(name, "run number with a leading zero");
  uint64_t run = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return Bad(name, "run number is not a decimal integer");
    run = run * 10 + static_cast<uint64_t>(c - '0');
    if (run > UINT32_MAX) return Bad(name, "run number above 4294967295");
  }
  return static_cast<uint32_t>(run);
}

Result<std::string> Unescape(std::string_view name, std::string_view escaped) {
  std::string job;
  job.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c != '%') {
      if (!IsPlain(static_cast<unsigned char>(c))) {
        return Bad(name, "byte " + QuoteExcerpt(std::string_view(&c, 1)) + " is not escaped");
      }
      job.push_back(c);
      continue;
    }
    const int hi = i + 1 < escaped.size() ? HexValue(escaped[i + 1]) : -1;
    const int lo = i + 2 < escaped.size() ? HexValue(escaped[i + 2]) : -1;
    if (hi < 0 || lo < 0) return Bad(name, "'%' not followed by two upper-case hex digits");
    const auto byte = static_cast<unsigned char>(hi * 16 + lo);
    if (IsPlain(byte)) return Bad(name, "escape of a byte that needs none");
    job.push_back(static_cast<char>(byte));
    i += 2;
  }
  return job;
}

}  // namespace

std::string EscapeSiteJobId(std::string_view job) {
  std::string out;
  out.reserve(job.size());
  for (char c : job) {
    const auto b = static_cast<unsigned char>(c);
    if (IsPlain(b)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

std::string SiteJobName(std::string_view job, uint32_t run) {
  return std::string(kPrefix) + EscapeSiteJobId(job) + std::string(kRunMark) + std::to_string(run);
}

Result<RunName> ParseSiteJobName(std::string_view name) {
  if (name.substr(0, kPrefix.size()) != kPrefix) return Bad(name, "does not start with \"pc-\"");
  const std::string_view rest = name.substr(kPrefix.size());
  const size_t mark = rest.rfind(kRunMark);
  if (mark == std::string_view::npos) return Bad(name, "no \"-r<run>\" at the end");
  if (mark == 0) return Bad(name, "empty job id");
  POLYCLOUD_ASSIGN_OR_RETURN(uint32_t run, ParseRun(name, rest.substr(mark + kRunMark.size())));
  POLYCLOUD_ASSIGN_OR_RETURN(std::string job, Unescape(name, rest.substr(0, mark)));
  return RunName{std::move(job), run};
}

Status CheckDispatchRequest(const DispatchRequest& r) {
  constexpr size_t kMaxNameBytes = 1000;
  if (r.job.empty()) return InvalidArgument("dispatch: empty job id");
  const std::string what = "dispatch of " + QuoteExcerpt(r.job) + ": ";
  if (r.gpus < 0) return InvalidArgument(what + "negative GPU count");
  if (r.expected.seconds() < 0) return InvalidArgument(what + "negative expected time");
  if (SiteJobName(r.job, r.run).size() > kMaxNameBytes) {
    return InvalidArgument(what + "the job id is too long for a site job name (" +
                           std::to_string(kMaxNameBytes) + " bytes)");
  }
  for (char c : r.partition) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7f) {
      return InvalidArgument(what + "partition " + QuoteExcerpt(r.partition) +
                             " holds a space or control character");
    }
  }
  if (r.job.find('\0') != std::string::npos) return InvalidArgument(what + "NUL in the job id");
  if (r.command.find('\0') != std::string::npos) {
    return InvalidArgument(what + "the command holds a NUL byte");
  }
  return Status::Ok();
}

const char* SiteJobStateName(SiteJobState state) {
  switch (state) {
    case SiteJobState::kPending:
      return "pending";
    case SiteJobState::kRunning:
      return "running";
    case SiteJobState::kCompleted:
      return "completed";
    case SiteJobState::kFailed:
      return "failed";
    case SiteJobState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

}  // namespace polycloud::sites
