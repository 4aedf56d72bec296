"""IRN stage speed and memory: IRNet training iterations and random-walk pseudo masks.

  (a) training: ``--iters`` steps of IRNet from ``configs/advcam/irnet_r50_3ep_voc12aug.py`` (random
      weights, random images, random blocky IR labels) at the config's batch and crop (IRN: 32 x
      512), the config's optimizer; prints s/iteration, images/s and peak memory;
  (b) inference: per image, the flip-averaged boundary map and the random walk
      (``refine_with_random_walk``, sparse) at a VOC size (default 500 x 375); prints
      images/s and peak memory, and, with ``--dense-check``, the largest difference from the
      reference's dense ``T ** 256`` walk on one image.

Peak memory: CUDA max allocated; on CPU the process's peak RSS.

Example (CPU, small): python benchmarks/irn_throughput.py --device cpu --batch 2 --crop 256 --iters 2 --images 2
"""
import argparse
import copy
import os.path as osp
import resource
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import torch  # noqa: E402

import advcam_mm  # noqa: E402,F401
from advcam_mm.core.random_walk import refine_with_random_walk  # noqa: E402

CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs', 'advcam', 'irnet_r50_3ep_voc12aug.py')


def peak_memory_mib(device):
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def blocky_labels(batch, size, generator):
    cells = torch.tensor([0, 0, 1, 5, 255])[torch.randint(0, 5, (batch, 1, size // 32, size // 32),
                                                          generator=generator)]
    return cells.repeat_interleave(32, 2).repeat_interleave(32, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--batch', type=int, help="training batch (default: the config's, 32)")
    parser.add_argument('--crop', type=int, default=512)
    parser.add_argument('--iters', type=int, default=5, help='timed training iterations (after 2 warm-ups)')
    parser.add_argument('--images', type=int, default=5, help='timed random-walk images (after 1 warm-up)')
    parser.add_argument('--height', type=int, default=375)
    parser.add_argument('--width', type=int, default=500)
    parser.add_argument('--classes', type=int, default=2, help='class maps per image in the walk')
    parser.add_argument('--dense-check', action='store_true', help='compare one walk with the dense one')
    parser.add_argument('--threads', type=int, help='torch threads on CPU')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmseg')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    model_cfg.pop('data_preprocessor')
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).to(device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = args.batch or cfg.train_dataloader.batch_size
    generator = torch.Generator().manual_seed(0)

    # (a) training iterations
    model.train()
    images = torch.randn(batch, 3, args.crop, args.crop, generator=generator).to(device)
    samples = []
    for label in blocky_labels(batch, args.crop, generator):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label.to(device))
        samples.append(sample)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for step in range(2 + args.iters):
        synchronize(device)
        start = time.perf_counter()
        losses = model(images, samples, mode='loss')
        optim_wrapper.update_params(sum(losses.values()))
        synchronize(device)
        if step >= 2:
            times.append(time.perf_counter() - start)
    seconds = sum(times) / len(times)
    print(f'training  batch {batch} x {args.crop}^2 on {device}: {seconds:.3f} s/iteration, '
          f'{batch / seconds:.1f} images/s, peak memory {peak_memory_mib(device):.0f} MiB, '
          f'loss {float(sum(losses.values())):.3f}', flush=True)

    # (b) boundary map + random walk per image
    model.eval()
    del images, samples, losses
    optim_wrapper.zero_grad()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    height, width = args.height, args.width
    strided = (-(-height // 4), -(-width // 4))
    keys = torch.arange(args.classes)
    times = []
    for index in range(1 + args.images):
        image = torch.randn(3, height, width, generator=generator).to(device)
        cams = torch.rand(args.classes, *strided, generator=generator).to(device)
        synchronize(device)
        start = time.perf_counter()
        boundary, _ = model.boundary_and_displacement(image)
        mask = refine_with_random_walk(cams, keys, boundary, (height, width))
        synchronize(device)
        if index >= 1:
            times.append(time.perf_counter() - start)
    seconds = sum(times) / len(times)
    print(f'inference {height}x{width} image, {args.classes} classes on {device}: {seconds:.3f} s/image '
          f'({1 / seconds:.2f} images/s), peak memory {peak_memory_mib(device):.0f} MiB', flush=True)
    if args.dense_check:
        dense = refine_with_random_walk(cams, keys, boundary, (height, width), sparse=False)
        print(f'dense walk agrees on {float((dense == mask).float().mean()) * 100:.3f}% of pixels')


if __name__ == '__main__':
    main()
