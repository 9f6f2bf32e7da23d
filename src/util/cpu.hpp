#pragma once

namespace wp {

// CPUs this process may use: the affinity mask, further limited by a cgroup
// v2 CPU quota (cpu.max) when one is set. At least 1.
int available_cpus();

}  // namespace wp
