// Small hand-built clusters and pods for the frag tests.
#ifndef POLYCLOUD_SRC_FRAG_TEST_UTIL_H_
#define POLYCLOUD_SRC_FRAG_TEST_UTIL_H_

#include <filesystem>
#include <string>
#include <vector>

#include "polycloud/frag/cluster.h"

namespace polycloud::frag::testing {

// A node of `gpus` GPUs of model `model` (index into the cluster's models).
inline NodeSpec Node(std::string name, int model, int gpus, int64_t cpu_milli = 64000,
                     int64_t memory_mib = 262144) {
  return NodeSpec{std::move(name), gpus > 0 ? model : -1, gpus, cpu_milli, memory_mib};
}

inline Pod GpuPod(int num_gpu, int64_t gpu_milli, int64_t cpu_milli = 1000,
                  int64_t memory_mib = 1024) {
  Pod p;
  p.num_gpu = num_gpu;
  p.gpu_milli = gpu_milli;
  p.cpu_milli = cpu_milli;
  p.memory_mib = memory_mib;
  return p;
}

inline Pod CpuPod(int64_t cpu_milli, int64_t memory_mib = 1024) {
  Pod p;
  p.cpu_milli = cpu_milli;
  p.memory_mib = memory_mib;
  return p;
}

inline Cluster MakeCluster(std::vector<NodeSpec> nodes, std::vector<std::string> models = {"G2"}) {
  auto c = Cluster::Create(std::move(models), std::move(nodes));
  if (!c.ok()) std::abort();
  return std::move(*c);
}

// The folder of the shipped data: ../shared/data next to the source tree, or
// /work/shared/data; "" when neither holds the Alibaba files.
inline std::string AlibabaDataDir() {
  for (std::string dir :
       {std::string(POLYCLOUD_SHARED_DATA_DIR), std::string("/work/shared/data")}) {
    dir += "/alibaba-gpu-2023";
    if (std::filesystem::exists(dir + "/openb_pod_list_default.csv")) return dir;
  }
  return "";
}

}  // namespace polycloud::frag::testing

namespace polycloud::frag {
using testing::CpuPod;
using testing::GpuPod;
using testing::MakeCluster;
using testing::Node;
}  // namespace polycloud::frag

#endif  // POLYCLOUD_SRC_FRAG_TEST_UTIL_H_
