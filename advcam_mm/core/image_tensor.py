"""An RGB image as the networks take it: a normalised ``(3, H, W)`` float tensor."""
import numpy as np
import torch


def normalise_image(image_rgb: np.ndarray, mean, std, device='cpu') -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(3, H, W)`` float32 ``(x - mean) / std`` on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(image_rgb)).to(device).permute(2, 0, 1).float()
    mean = torch.as_tensor(mean, dtype=x.dtype, device=device).view(3, 1, 1)
    std = torch.as_tensor(std, dtype=x.dtype, device=device).view(3, 1, 1)
    return (x - mean) / std
