"""Throughput of AdvCAM map generation: the batched core vs. the reference's loop vs. the floor.

On the same network and images it times
  (a) ``advcam_maps`` (all classes x views of a scale climb in one batch, input-only backward),
  (b) a loop structured as the authors' ``obtain_CAM_masking.py``: per image, scale and class,
      the flip pair as a batch of 2, per step a Grad-CAM backward (``retain_graph``, module hooks
      on the last stage) then the loss backward, parameters requiring grad,
  (c) the floor: the passes (a) cannot avoid, with no bookkeeping: per scale, ``steps`` forwards of
      all views (the reference's halved schedule at the 0.5 scale) and an input-only backward after
      each but the last,
and prints images/s, b/a, a/c and peak memory (CUDA: max allocated; CPU: the process's peak RSS,
reset before each method through /proc/self/clear_refs where Linux allows it). With ``--amp`` it
also runs (a) and (c) under autocast and prints how far the autocast maps are from fp32.

The network is torchvision's ResNet-18 (or -50) with output stride 16 (IRN's classifier: the first
block of the last stage keeps the resolution), randomly initialised, in eval mode; the head is a
random bias-free 1x1 convolution to 20 classes. Random weights and images: throughput, not quality.

Example (CPU): python benchmarks/advcam_throughput.py --threads 2 --num-images 2 --size 200
"""
import argparse
import contextlib
import math
import resource
import time

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from advcam_mm.core.advcam import advcam_maps, scale_schedule
from advcam_mm.core.cam import aggregate_scale_maps, class_maps, rescale_image

NUM_CLASSES = 20


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--arch', default='resnet18', choices=['resnet18', 'resnet50'])
    parser.add_argument('--size', type=int, default=200, help='image height')
    parser.add_argument('--width', type=int, default=None, help='image width (default: --size)')
    parser.add_argument('--num-images', type=int, default=4)
    parser.add_argument('--classes', type=int, default=2, help='classes present per image')
    parser.add_argument('--steps', type=int, default=27)
    parser.add_argument('--scales', type=float, nargs='+', default=[1.0, 0.5, 1.5, 2.0])
    parser.add_argument('--amp', default='none', choices=['none', 'bf16', 'fp16'])
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--max-batch', type=int, default=None, help='memory cap for (a)')
    parser.add_argument('--methods', default='abc', help='subset of "abc" to run')
    parser.add_argument('--params-grad', action='store_true',
                        help='keep requires_grad on the parameters for (a) and (c) too')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def build_classifier(arch):
    """(features: last-stage feature extractor, head: bias-free 1x1 conv), output stride 16."""
    net = getattr(torchvision.models, arch)(weights=None)
    for module in net.layer4[0].modules():  # IRN strides (2, 2, 2, 1): layer4 keeps the resolution
        if isinstance(module, nn.Conv2d) and module.stride == (2, 2):
            module.stride = (1, 1)
    features = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3,
                             net.layer4)
    head = nn.Conv2d(net.fc.in_features, NUM_CLASSES, 1, bias=False)
    nn.init.normal_(head.weight, std=0.01)
    return features.eval(), head


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class PeakMemory:
    """Peak memory of one method: CUDA max allocated, or the process's peak RSS on CPU."""

    def __init__(self, device):
        self.device = device

    @staticmethod
    def _status(field):
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) / 1024  # kB -> MiB
        return float('nan')

    def __enter__(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device) / 2**20
        else:
            self.reset = False
            try:
                with open('/proc/self/clear_refs', 'w') as f:  # '5' resets the peak RSS (VmHWM)
                    f.write('5')
                self.reset = True
            except OSError:
                pass
            self.start = self._status('VmRSS')
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) / 2**20
            self.text = f'peak {self.peak:.0f} MiB allocated (+{self.peak - self.start:.0f})'
        else:
            self.peak = self._status('VmHWM')
            if self.reset:
                self.text = f'peak RSS {self.peak:.0f} MiB (+{self.peak - self.start:.0f} over its start)'
            else:
                maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                self.text = f'process max RSS so far {maxrss:.0f} MiB (peak not resettable)'
        return False


def scale_order(scales):
    return [1, 0, *range(2, len(scales))] if len(scales) > 1 else [0]


def run_batched(features_fn, weight, images, class_ids, args):
    """(a) the core."""
    return [advcam_maps(features_fn, weight, image, ids, args.scales, args.steps, max_batch=args.max_batch)
            for image, ids in zip(images, class_ids)]


def run_reference_loop(features, head, images, class_ids, args):
    """(b) the structure of obtain_CAM_masking.py + gradCAM.py (fp32, parameters requiring grad)."""
    pool = {}

    def save_fmap_and_grad(module, inputs, output):  # gradCAM.py's forward and backward hooks
        pool['fmap'] = output
        output.register_hook(lambda grad: pool.__setitem__('grad', grad))

    handle = features[-1].register_forward_hook(save_fmap_and_grad)
    results = []
    try:
        for image, ids in zip(images, class_ids):
            outputs_cam = []
            mul_for_scale = 1.0
            for size_idx in scale_order(args.scales):
                pair = rescale_image(image, args.scales[size_idx])
                pair = torch.stack([pair, pair.flip(-1)])
                total_adv_iter = args.steps
                if size_idx == 1:
                    total_adv_iter, mul_for_scale = scale_schedule(args.steps)
                cam_all_classes = None
                for c_idx, c in enumerate(ids.tolist()):
                    img = pair.clone()
                    for it in range(total_adv_iter):
                        img.requires_grad = True
                        logits = F.conv2d(features(img), head.weight)
                        logits_vec = F.relu(logits).sum((2, 3))  # gsp2d
                        features.zero_grad()
                        head.zero_grad()
                        logits_vec[:, c].sum().backward(retain_graph=True)
                        fmap, grad = pool['fmap'], pool['grad']
                        weights = grad.sum((2, 3), keepdim=True) / ((grad > 0).sum() + 1e-12)  # gap2d_pos
                        gcam = F.relu((fmap * weights).sum(1, keepdim=True))
                        regions = gcam[0] + gcam[1].flip(-1)
                        if it == 0:
                            init_cam = regions.detach()
                        if cam_all_classes is None:
                            cam_all_classes = torch.zeros(len(ids), *regions.shape[1:])
                        cam_all_classes[c_idx] += regions[0].detach().cpu() * mul_for_scale
                        logit = F.relu(logits).mean((2, 3))  # gap2d
                        logit_loss = -2 * logit[:, c].sum() + logit.sum()
                        expanded_mask = torch.zeros(regions.shape)
                        expanded_mask[(regions / regions.max() > 0.5).cpu()] = 1
                        l_ad = (torch.abs(regions - init_cam) * expanded_mask.to(regions.device)).sum()
                        loss = -logit_loss - l_ad * 7.0
                        features.zero_grad()
                        head.zero_grad()
                        img.grad.zero_()
                        loss.backward()
                        data_grad = img.grad.data
                        perturbed = img + 0.08 * (data_grad / (data_grad.abs().max() + 1e-12))
                        img = torch.clamp(perturbed, img.min().item(), img.max().item()).detach()
                outputs_cam.append(cam_all_classes)
            strided, high_res = aggregate_scale_maps(outputs_cam, image.shape[1:])
            results.append({'keys': ids, 'strided': strided, 'high_res': high_res})
    finally:
        handle.remove()
    return results


def run_floor(features_fn, weight, images, class_ids, args):
    """(c) the forwards and input-only backwards (a) needs, nothing else."""
    for image, ids in zip(images, class_ids):
        for size_idx in scale_order(args.scales):
            steps = args.steps if size_idx != 1 else scale_schedule(args.steps)[0]
            x = rescale_image(image, args.scales[size_idx])
            x = torch.stack([x, x.flip(-1)]).repeat(len(ids), 1, 1, 1)
            for t in range(steps):
                climb = t < steps - 1
                with torch.set_grad_enabled(climb):
                    x.requires_grad_(climb)
                    maps = class_maps(features_fn(x), weight)
                    if climb:
                        grad, = torch.autograd.grad(maps.sum(), x)
                        x = (x + 1e-3 * grad).detach()


def timed(name, fn, device, num_images):
    with PeakMemory(device) as memory:
        synchronize(device)
        start = time.perf_counter()
        result = fn()
        synchronize(device)
        seconds = time.perf_counter() - start
    print(f'({name}) {num_images / seconds:8.3f} images/s  {seconds:8.2f} s  {memory.text}', flush=True)
    return num_images / seconds, result


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    features, head = build_classifier(args.arch)
    features.to(device)
    head.to(device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    features.to(memory_format=memory_format)
    height, width = args.size, args.width or args.size
    images = [torch.randn(3, height, width, device=device) for _ in range(args.num_images)]
    class_ids = [torch.randperm(NUM_CLASSES)[:args.classes].sort().values for _ in range(args.num_images)]
    weight = head.weight.detach()
    amp_dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(args.amp)

    def features_fn(x):
        return features(x.contiguous(memory_format=memory_format))

    def under(dtype, fn):
        def wrapped():
            context = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
            with context:
                return fn()
        return wrapped

    print(f'device {device} ({torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}), '
          f'threads {torch.get_num_threads()}, {args.arch} OS16, {args.num_images} images {height}x{width}, '
          f'{args.classes} classes each, steps {args.steps}, scales {args.scales}, amp {args.amp}, '
          f'channels_last {args.channels_last}, torch {torch.__version__}', flush=True)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    warm = argparse.Namespace(**{**vars(args), 'steps': 2})  # one short pass of each: allocator, kernels
    rates, maps = {}, {}
    for method in args.methods:
        for dtype in ([None] if method == 'b' or amp_dtype is None else [None, amp_dtype]):
            tag = method + ('' if dtype is None else f'+{args.amp}')
            params_grad = method == 'b' or args.params_grad
            for p in [*features.parameters(), *head.parameters()]:
                p.requires_grad_(params_grad)
            if method == 'a':
                run = lambda a: run_batched(features_fn, weight, images, class_ids, a)  # noqa: E731
            elif method == 'b':
                run = lambda a: run_reference_loop(features, head, images, class_ids, a)  # noqa: E731
            else:
                run = lambda a: run_floor(features_fn, weight, images, class_ids, a)  # noqa: E731
            under(dtype, lambda: run(argparse.Namespace(**{**vars(warm), 'num_images': 1})))()
            rates[tag], maps[tag] = timed(tag, under(dtype, lambda: run(args)), device, args.num_images)
    for amp in ['', f'+{args.amp}'] if amp_dtype else ['']:
        if 'b' in rates and 'a' + amp in rates:
            print(f'b/a{amp} = {rates["a" + amp] / rates["b"]:.2f}  (speed-up of the core over the reference loop)')
        if 'c' + amp in rates and 'a' + amp in rates:
            print(f'a/c{amp} = {rates["c" + amp] / rates["a" + amp]:.3f}  (time of the core over the floor)')
    if 'a' in maps and 'b' in maps:
        diff = max((x['high_res'].cpu() - y['high_res'].cpu()).abs().max().item() for x, y in zip(maps['a'], maps['b']))
        print(f'max |a - b| of the normalised high-res maps: {diff:.2e} (same algorithm; float rounding only)')
    if amp_dtype and 'a' in maps and f'a+{args.amp}' in maps:
        pairs = list(zip(maps[f'a+{args.amp}'], maps['a']))
        worst = max((x['high_res'] - y['high_res']).abs().max().item() for x, y in pairs)
        mean = sum((x['high_res'] - y['high_res']).abs().mean().item() for x, y in pairs) / len(pairs)
        print(f'{args.amp} vs fp32 normalised high-res maps: max |diff| {worst:.3e}, mean |diff| {mean:.3e}')
    assert all(math.isfinite(r) for r in rates.values())


if __name__ == '__main__':
    main()
