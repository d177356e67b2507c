"""One client per container runtime behind the `RuntimeResolver` interface (`resolver`), the CRI
included (`cri`, over `cri_api`'s generated code); `registry` lists them, `identities` asks them
in order, and `cgroup_pods` describes what none of them knows from cgroups alone."""
