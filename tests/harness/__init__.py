"""Test harnesses: fake proc trees, synthetic pods, real podman and containerd pods."""
