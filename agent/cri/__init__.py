"""The Container Runtime Interface, read-only: what kubelet's runtime says about its pods."""
