"""Framework-free algorithm core: pure PyTorch/numpy functions on tensors, no mmengine."""
