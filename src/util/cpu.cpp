#include "util/cpu.hpp"

#include <sched.h>

#include <cmath>
#include <fstream>
#include <string>

namespace wp {

int available_cpus() {
  int n = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  // cgroup v2: "max 100000" or "200000 100000" (quota period).
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (f >> quota >> period && quota != "max") {
    double q = std::stod(quota), p = std::stod(period);
    if (p > 0) n = std::min(n, std::max(1, int(std::ceil(q / p))));
  }
  return n < 1 ? 1 : n;
}

}  // namespace wp
