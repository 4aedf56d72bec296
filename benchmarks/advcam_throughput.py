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
reset before each call through /proc/self/clear_refs where Linux allows it). The methods take
turns image by image, so that load from other processes falls on all of them alike; on CPU the
ratios are also given in process CPU time, which such load disturbs less than wall time. With
``--amp`` it also runs (a) and (c) under autocast and prints how far the autocast maps are from
fp32 (for scale: fp32 and fp64 climbs already differ by ~1e-2 after 27 steps, as the climb
amplifies rounding, e.g. through which pixel holds max|g|).

The network is torchvision's ResNet-18 (or -50) with output stride 16 (IRN's classifier: the first
block of the last stage keeps the resolution), randomly initialised, in eval mode; the head is a
random bias-free 1x1 convolution to 20 classes. Random weights and images: throughput, not quality.

Example (CPU): python benchmarks/advcam_throughput.py --threads 2 --num-images 2 --size 200
"""
import argparse
import contextlib
import resource
import time

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from advcam_mm.core.advcam import advcam_maps, scale_order, scale_schedule
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


def _proc_status_mib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024  # kB -> MiB
    return float('nan')


class PeakMemory:
    """Peak memory over a block: CUDA max allocated, or the process's peak RSS on CPU (MiB).

    ``peak`` is the peak and ``rise`` the peak minus the usage at the start. On CPU the
    peak RSS (VmHWM) is reset through /proc/self/clear_refs; where Linux refuses,
    ``peak`` is the process's lifetime maximum (``resettable`` is False).
    """

    def __init__(self, device):
        self.device = device
        self.resettable = True

    def __enter__(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device) / 2**20
        else:
            try:
                with open('/proc/self/clear_refs', 'w') as f:  # '5' resets the peak RSS
                    f.write('5')
            except OSError:
                self.resettable = False
            self.start = _proc_status_mib('VmRSS')
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self.resettable:
            self.peak = _proc_status_mib('VmHWM')
        else:
            self.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.rise = self.peak - self.start
        return False


def run_batched(features_fn, weight, image, ids, args):
    """(a) the core."""
    return advcam_maps(features_fn, weight, image, ids, args.scales, args.steps, max_batch=args.max_batch)


def run_reference_loop(features, head, image, ids, args):
    """(b) the structure of obtain_CAM_masking.py + gradCAM.py (fp32, parameters requiring grad)."""
    pool = {}

    def save_fmap_and_grad(module, inputs, output):  # gradCAM.py's forward and backward hooks
        pool['fmap'] = output
        output.register_hook(lambda grad: pool.__setitem__('grad', grad))

    handle = features[-1].register_forward_hook(save_fmap_and_grad)
    try:
        outputs_cam = []
        mul_for_scale = 1.0
        for size_idx in scale_order(len(args.scales)):
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
    finally:
        handle.remove()
    strided, high_res = aggregate_scale_maps(outputs_cam, image.shape[1:])
    return {'keys': ids, 'strided': strided, 'high_res': high_res}


def run_floor(features_fn, weight, image, ids, args):
    """(c) the forwards and input-only backwards (a) needs, nothing else."""
    for size_idx in scale_order(len(args.scales)):
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
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    print(f'device {device} ({torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}), '
          f'threads {torch.get_num_threads()}, {args.arch} OS16, {args.num_images} images {height}x{width}, '
          f'{args.classes} classes each, steps {args.steps}, scales {args.scales}, amp {args.amp}, '
          f'channels_last {args.channels_last}, torch {torch.__version__}', flush=True)

    def features_fn(x):
        return features(x.contiguous(memory_format=memory_format))

    methods = {'a': lambda image, ids, a: run_batched(features_fn, weight, image, ids, a),
               'b': lambda image, ids, a: run_reference_loop(features, head, image, ids, a),
               'c': lambda image, ids, a: run_floor(features_fn, weight, image, ids, a)}
    variants = [(method + (f'+{args.amp}' if dtype else ''), method, dtype) for method in args.methods
                for dtype in ([None] if method == 'b' or amp_dtype is None else [None, amp_dtype])]

    def call(method, dtype, image, ids, run_args):
        for p in [*features.parameters(), *head.parameters()]:
            p.requires_grad_(method == 'b' or args.params_grad)
        context = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        with context:
            return methods[method](image, ids, run_args)

    warm = argparse.Namespace(**{**vars(args), 'steps': 2})  # allocator, kernels, cudnn autotuning
    for _, method, dtype in variants:
        call(method, dtype, images[0], class_ids[0], warm)
    # Interleaved per image, so that load from other processes hits every method alike.
    stats = {tag: {'wall': 0.0, 'cpu': 0.0, 'peak': 0.0, 'rise': 0.0, 'maps': []} for tag, _, _ in variants}
    for image, ids in zip(images, class_ids):
        for tag, method, dtype in variants:
            with PeakMemory(device) as memory:
                synchronize(device)
                wall, cpu = time.perf_counter(), time.process_time()
                result = call(method, dtype, image, ids, args)
                synchronize(device)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            entry = stats[tag]
            entry['wall'] += wall
            entry['cpu'] += cpu
            entry['peak'] = max(entry['peak'], memory.peak)
            entry['rise'] = max(entry['rise'], memory.rise)
            entry['maps'].append(result)
    memory_kind = 'CUDA max allocated' if device.type == 'cuda' else (
        'peak RSS' if memory.resettable else 'process max RSS so far (not resettable)')
    rate = {}
    for tag, entry in stats.items():
        rate[tag] = args.num_images / entry['wall']
        line = f'({tag}) {rate[tag]:8.4f} images/s  {entry["wall"]:8.2f} s wall'
        if device.type == 'cpu':
            line += f'  {entry["cpu"]:8.2f} s CPU ({args.num_images / entry["cpu"]:.4f} images/CPU-s)'
        print(line + f'  {memory_kind} {entry["peak"]:.0f} MiB (+{entry["rise"]:.0f} over its start)')

    def ratio(x, y, key):
        return stats[x][key] / stats[y][key]

    keys = ['wall', 'cpu'] if device.type == 'cpu' else ['wall']
    for amp in ['', f'+{args.amp}'] if amp_dtype else ['']:
        if 'b' in stats and 'a' + amp in stats:
            print(f'b/a{amp} = ' + ', '.join(f'{ratio("b", "a" + amp, k):.2f} ({k})' for k in keys)
                  + '  speed-up of the core over the reference loop')
        if 'c' + amp in stats and 'a' + amp in stats:
            print(f'a/c{amp} = ' + ', '.join(f'{ratio("a" + amp, "c" + amp, k):.3f} ({k})' for k in keys)
                  + '  time of the core over the floor')

    def map_difference(x, y):
        pairs = [(p['high_res'].float().cpu(), q['high_res'].float().cpu()) for p, q in zip(x, y)]
        return max((p - q).abs().max().item() for p, q in pairs), sum((p - q).abs().mean().item()
                                                                     for p, q in pairs) / len(pairs)

    if 'a' in stats and 'b' in stats:
        print('a vs b normalised high-res maps: max |diff| {:.2e}, mean |diff| {:.2e} (same algorithm: fp32 '
              'rounding, amplified over the climb)'.format(*map_difference(stats['a']['maps'], stats['b']['maps'])))
    if amp_dtype and 'a' in stats and f'a+{args.amp}' in stats:
        print(f'{args.amp} vs fp32 normalised high-res maps: max |diff| {{:.2e}}, mean |diff| {{:.2e}}'.format(
            *map_difference(stats[f'a+{args.amp}']['maps'], stats['a']['maps'])))


if __name__ == '__main__':
    main()
