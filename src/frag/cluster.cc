#include "polycloud/frag/cluster.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace polycloud::frag {
namespace {

uint64_t Mix(uint64_t h, uint64_t v) {
  // splitmix64's finaliser over a running combination: cheap and well spread.
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

uint64_t HashState(const NodeState& s) {
  uint64_t h = Mix(0, static_cast<uint64_t>(s.model + 1));
  h = Mix(h, static_cast<uint64_t>(s.gpus));
  h = Mix(h, static_cast<uint64_t>(s.cpu_free));
  h = Mix(h, static_cast<uint64_t>(s.memory_free));
  for (int g = 0; g < s.gpus; ++g) h = Mix(h, static_cast<uint64_t>(s.gpu_free_sorted[g]));
  return Mix(h, s.kinds);
}

// Bit of `pod`'s kind in NodeState::kinds.
uint32_t KindBit(const Pod& pod) {
  if (pod.IsCpuOnly()) return 0;
  if (pod.IsSharing()) return 1u;
  return 1u << std::min(pod.num_gpu, kMaxGpusPerNode);
}

}  // namespace

int64_t NodeState::GpuFreeTotal() const {
  int64_t total = 0;
  for (int g = 0; g < gpus; ++g) total += gpu_free_sorted[g];
  return total;
}

int NodeState::FullyFreeGpus() const {
  int n = 0;
  for (int g = 0; g < gpus; ++g) n += gpu_free_sorted[g] == kMilliPerGpu;
  return n;
}

bool StateFits(const NodeState& s, const Pod& pod) {
  if (s.cpu_free < pod.cpu_milli || s.memory_free < pod.memory_mib) return false;
  if (pod.IsCpuOnly()) return true;
  if (s.model < 0 || ((pod.models >> s.model) & 1) == 0) return false;
  int fitting = 0;  // GPUs with at least the per-GPU share free (sorted descending)
  for (int g = 0; g < s.gpus && s.gpu_free_sorted[g] >= pod.gpu_milli; ++g) ++fitting;
  return fitting >= pod.num_gpu;
}

Result<Cluster> Cluster::Create(std::vector<std::string> models, std::vector<NodeSpec> nodes) {
  if (models.size() > static_cast<size_t>(kMaxModels)) {
    return InvalidInput("expected at most " + std::to_string(kMaxModels) +
                        " GPU models in a cluster, found " + std::to_string(models.size()));
  }
  Cluster c;
  c.models_ = std::move(models);
  c.nodes_ = std::move(nodes);
  const size_t n = c.nodes_.size();
  c.cpu_free_.resize(n);
  c.memory_free_.resize(n);
  c.gpu_free_.assign(n, {});
  c.kinds_.assign(n, 0);
  c.class_of_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const NodeSpec& s = c.nodes_[i];
    if (s.gpus < 0 || s.gpus > kMaxGpusPerNode) {
      return InvalidInput("node " + s.name + ": expected 0 to " + std::to_string(kMaxGpusPerNode) +
                          " GPUs, found " + std::to_string(s.gpus));
    }
    if (s.gpus > 0 && (s.model < 0 || s.model >= static_cast<int>(c.models_.size()))) {
      return InvalidInput("node " + s.name + ": a GPU node needs a GPU model");
    }
    if (s.cpu_milli < 0 || s.memory_mib < 0) {
      return InvalidInput("node " + s.name + ": negative CPU or memory");
    }
    c.cpu_free_[i] = s.cpu_milli;
    c.memory_free_[i] = s.memory_mib;
    for (int g = 0; g < s.gpus; ++g) c.gpu_free_[i][g] = kMilliPerGpu;
    c.total_gpu_milli_ += s.gpus * kMilliPerGpu;
  }
  for (size_t i = 0; i < n; ++i) {
    c.class_of_[i] = c.Intern(c.StateOf(static_cast<int>(i)));
  }
  return c;
}

int Cluster::ModelId(const std::string& name) const {
  auto it = std::find(models_.begin(), models_.end(), name);
  return it == models_.end() ? -1 : static_cast<int>(it - models_.begin());
}

NodeState Cluster::StateOf(int n) const {
  NodeState s;
  s.model = nodes_[n].model;
  s.gpus = nodes_[n].gpus;
  s.cpu_free = cpu_free_[n];
  s.memory_free = memory_free_[n];
  s.gpu_free_sorted = gpu_free_[n];
  std::sort(s.gpu_free_sorted.begin(), s.gpu_free_sorted.begin() + s.gpus, std::greater<>());
  s.kinds = kinds_[n];
  return s;
}

int Cluster::Intern(const NodeState& state) {
  std::vector<int>& bucket = class_index_[HashState(state)];
  for (int id : bucket) {
    if (classes_[id] == state) return id;
  }
  classes_.push_back(state);
  bucket.push_back(static_cast<int>(classes_.size()) - 1);
  return static_cast<int>(classes_.size()) - 1;
}

std::optional<GpuChoice> Cluster::FitOnNode(int n, const Pod& pod) const {
  if (!StateFits(classes_[class_of_[n]], pod)) return std::nullopt;
  GpuChoice choice;
  if (pod.IsCpuOnly()) return choice;
  const NodeSpec& spec = nodes_[n];
  if (pod.IsSharing()) {
    int best = -1;
    for (int g = 0; g < spec.gpus; ++g) {
      const int64_t free = gpu_free_[n][g];
      if (free >= pod.gpu_milli && (best < 0 || free < gpu_free_[n][best])) best = g;
    }
    choice.index[0] = static_cast<int8_t>(best);
    choice.count = 1;
    return choice;
  }
  for (int g = 0; g < spec.gpus && choice.count < pod.num_gpu; ++g) {
    if (gpu_free_[n][g] >= pod.gpu_milli) choice.index[choice.count++] = static_cast<int8_t>(g);
  }
  return choice;
}

int Cluster::GpuWithFree(int n, int64_t free_milli) const {
  for (int g = 0; g < nodes_[n].gpus; ++g) {
    if (gpu_free_[n][g] == free_milli) return g;
  }
  return -1;
}

void Cluster::Place(int n, const Pod& pod, const GpuChoice& gpus) {
  POLYCLOUD_CHECK(cpu_free_[n] >= pod.cpu_milli && memory_free_[n] >= pod.memory_mib);
  POLYCLOUD_CHECK(gpus.count == pod.num_gpu);
  cpu_free_[n] -= pod.cpu_milli;
  memory_free_[n] -= pod.memory_mib;
  for (int i = 0; i < gpus.count; ++i) {
    const int g = gpus.index[i];
    POLYCLOUD_CHECK(g >= 0 && g < nodes_[n].gpus && gpu_free_[n][g] >= pod.gpu_milli);
    gpu_free_[n][g] = static_cast<int16_t>(gpu_free_[n][g] - pod.gpu_milli);
  }
  allocated_gpu_milli_ += pod.TotalGpuMilli();
  kinds_[n] |= KindBit(pod);
  class_of_[n] = Intern(StateOf(n));
}

Result<Cluster> ClusterFromNodeList(const traces::NodeList& list, const std::string& path) {
  std::vector<std::string> models;
  std::vector<NodeSpec> nodes;
  nodes.reserve(list.nodes.size());
  for (const traces::ClusterNode& node : list.nodes) {
    NodeSpec spec;
    spec.name = node.name;
    spec.gpus = static_cast<int>(std::min<int64_t>(node.gpus, kMaxGpusPerNode + 1));
    spec.cpu_milli = node.cpu_milli;
    spec.memory_mib = node.memory_mib;
    if (node.gpus > 0) {
      auto it = std::find(models.begin(), models.end(), node.model);
      if (it == models.end()) {
        models.push_back(node.model);
        it = models.end() - 1;
      }
      spec.model = static_cast<int>(it - models.begin());
    }
    if (node.gpus > kMaxGpusPerNode) {
      return InvalidInput(path + ":" + std::to_string(node.line) +
                          ": column 'gpu': expected at most " + std::to_string(kMaxGpusPerNode) +
                          " GPUs per node, found " + std::to_string(node.gpus));
    }
    nodes.push_back(std::move(spec));
  }
  if (models.size() > static_cast<size_t>(kMaxModels)) {
    return InvalidInput(path + ": expected at most " + std::to_string(kMaxModels) +
                        " GPU models in a node list, found " + std::to_string(models.size()));
  }
  return Cluster::Create(std::move(models), std::move(nodes));
}

Result<std::vector<Pod>> PodsFromTrace(const traces::AlibabaPodTrace& trace, const Cluster& cluster,
                                       const std::string& path) {
  std::vector<Pod> pods;
  pods.reserve(trace.pods.size());
  for (const traces::AlibabaPod& p : trace.pods) {
    Pod pod;
    pod.cpu_milli = p.cpu_milli;
    pod.memory_mib = p.memory_mib;
    pod.num_gpu = static_cast<int>(std::min<int64_t>(p.num_gpu, 1'000'000));  // fits nowhere
    pod.gpu_milli = p.num_gpu == 0 ? 0 : (p.gpu_milli == 0 ? kMilliPerGpu : p.gpu_milli);
    if (p.num_gpu > 1 && pod.gpu_milli < kMilliPerGpu) {
      return InvalidInput(
          path + ":" + std::to_string(p.line) +
          ": column 'gpu_milli': expected 1000 for a pod of several GPUs, found \"" +
          std::to_string(pod.gpu_milli) + "\" (a pod shares one GPU at most)");
    }
    if (!p.gpu_spec.empty()) {
      pod.models = 0;
      for (const std::string& model : p.gpu_spec) {
        const int id = cluster.ModelId(model);
        if (id >= 0) pod.models |= ModelMask{1} << id;
      }
    }
    pods.push_back(pod);
  }
  return pods;
}

}  // namespace polycloud::frag
