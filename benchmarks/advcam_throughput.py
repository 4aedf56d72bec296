"""Throughput of AdvCAM map generation: the batched engine vs. the authors' loop shape vs. the floor.

On the same network and images, side by side in one run, it times
  (a) the engine: ``advcam_maps_stream`` as class-map generation runs it (images of one size grouped
      with a bounded look-ahead, all classes x views x images of a size and scale climbing as one
      batch, split by ``--max-batch-pixels``; one forward and one input-only backward per step),
  (b) a loop shaped like the authors' ``obtain_CAM_masking.py`` (fp32): per image, scale and class, the
      flip pair as a batch of 2, per step a Grad-CAM backward (``retain_graph``, hooks on the last
      stage) then the loss backward, parameters requiring grad; on ``--reference-images`` images,
  (c) the floor: only the passes (a) needs, in (a)'s batches: per scale ``steps`` forwards of every view
      (the reference's shorter schedule at the 0.5 scale) and an input-only backward after each but the
      last, no bookkeeping,
and prints images/s, b/a, a/c, peak memory and its size per view pixel of the largest batch (to set
``max_batch_pixels`` from a byte budget), the projected wall time of VOC train_aug (10,582 images),
and, with ``--amp``, (a) and (c) under autocast with the max / mean |diff| of their maps from fp32.

Images: random normalised tensors at VOC sizes (``--sizes``: H x W with weights; default an assumed
mix, VOC's size histogram was not at hand) with VOC's classes per image: counts drawn from the
train_aug histogram of IRN's ``voc12/cls_labels.npy`` (1: 6249, 2: 3104, 3: 969, 4: 210, 5: 46,
6: 4 images; 1.56 classes per image), random classes. Network: torchvision ResNet-18/50 with output
stride 16 (IRN's classifier), random weights, eval mode, a random bias-free 1x1 head to 20 classes:
throughput, not quality. Peak memory: CUDA max allocated, or the process's peak RSS on CPU (reset
through /proc/self/clear_refs). On CPU the ratios are also given in process CPU time, which other
jobs on a shared machine disturb less than wall time; (a), (b), (c) take turns round by round.

GPU (defaults: 48 images; estimated at 3-4 minutes on an H200, not yet run there):
    python benchmarks/advcam_throughput.py --amp bf16 --channels-last
CPU (small setting, the CPU goals):
    python benchmarks/advcam_throughput.py --device cpu --threads 2 --arch resnet18 --num-images 6 \\
        --sizes 64x80:0.7,80x64:0.3 --rounds 2
"""
import argparse
import contextlib
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from advcam_mm.core.advcam import (advcam_maps_stream, climb_chunks, scale_order, scale_schedule)
from advcam_mm.core.cam import aggregate_scale_maps, class_maps, rescale_image
from advcam_mm.core.size_groups import group_by_size

NUM_CLASSES = 20
TRAIN_AUG_IMAGES = 10582
#: Images of VOC 2012 train_aug with 1 ... 6 classes (IRN's voc12/cls_labels.npy); mean 1.555.
VOC_CLASS_COUNTS = {1: 6249, 2: 3104, 3: 969, 4: 210, 5: 46, 6: 4}
AMP = {'bf16': ('bfloat16', torch.bfloat16), 'fp16': ('float16', torch.float16)}


def parse_args():
    gpu = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda' if gpu else 'cpu')
    parser.add_argument('--arch', default='resnet50', choices=['resnet18', 'resnet50'])
    parser.add_argument('--sizes', default='375x500:0.6,500x375:0.25,333x500:0.15',
                        help='image sizes HxW:weight, comma-separated')
    parser.add_argument('--num-images', type=int, default=48)
    parser.add_argument('--reference-images', type=int, default=None,
                        help='images timed for (b) (default: 4 on a GPU, all on CPU)')
    parser.add_argument('--steps', type=int, default=27)
    parser.add_argument('--scales', type=float, nargs='+', default=[1.0, 0.5, 1.5, 2.0])
    parser.add_argument('--amp', default='none', choices=['none', *AMP])
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--compile', default=None,
                        help="torch.compile the step: 'default' or a mode, e.g. reduce-overhead (CUDA graphs)")
    parser.add_argument('--lookahead', type=int, default=64, help='images looked ahead to group sizes')
    parser.add_argument('--max-group', type=int, default=None, help='images per group at most')
    parser.add_argument('--max-batch-pixels', type=float, default=24e6,
                        help='view pixels per batch at most (memory cap of (a) and (c))')
    parser.add_argument('--rounds', type=int, default=1, help='(a), (b), (c) take turns over this many rounds')
    parser.add_argument('--methods', default='abc', help='subset of "abc" to run')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    if args.reference_images is None:
        args.reference_images = 4 if args.device.startswith('cuda') else args.num_images
    return args


def parse_sizes(spec):
    sizes, weights = [], []
    for entry in spec.split(','):
        size, _, weight = entry.partition(':')
        height, width = (int(v) for v in size.lower().split('x'))
        sizes.append((height, width))
        weights.append(float(weight or 1))
    return sizes, np.asarray(weights) / sum(weights)


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


class Sample:
    """One image as class-map generation sees it (``.image``, ``.class_ids``)."""

    def __init__(self, image, class_ids):
        self.image, self.class_ids = image, class_ids


def make_samples(args, device):
    rng = np.random.default_rng(args.seed)
    sizes, weights = parse_sizes(args.sizes)
    counts = np.array(list(VOC_CLASS_COUNTS))
    count_weights = np.array(list(VOC_CLASS_COUNTS.values()), dtype=np.float64)
    samples = []
    for _ in range(args.num_images):
        height, width = sizes[rng.choice(len(sizes), p=weights)]
        num_classes = int(rng.choice(counts, p=count_weights / count_weights.sum()))
        image = torch.from_numpy(rng.standard_normal((3, height, width), dtype=np.float32))
        if device.type == 'cuda':
            image = image.pin_memory()  # as the DataLoader delivers them
        samples.append(Sample(image, torch.from_numpy(np.sort(rng.choice(NUM_CLASSES, num_classes, replace=False)))))
    return samples


def _proc_status_mib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024  # kB -> MiB
    return float('nan')


class PeakMemory:
    """Peak memory over a block, MiB: CUDA max allocated, or the peak RSS on CPU (``rise``: over the start)."""

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


def run_engine(features_fn, weight, samples, args, amp):
    """(a) class-map generation's loop: grouped stream, batched climb, maps copied to the host."""
    results = {}
    for sample, maps in advcam_maps_stream(features_fn, weight, samples, args.lookahead, args.max_group,
                                           scales=args.scales, steps=args.steps,
                                           max_batch_pixels=int(args.max_batch_pixels), amp=amp and AMP[amp][0],
                                           channels_last=args.channels_last, compile=args.compile_options):
        results[id(sample)] = {key: value.cpu() for key, value in maps.items()}  # what the writer receives
    return [results[id(sample)] for sample in samples]  # in input order


def run_floor(features_fn, weight, samples, args, amp):
    """(c) the forwards and input-only backwards of (a)'s batches, nothing else."""
    context = torch.autocast(weight.device.type, dtype=AMP[amp][1]) if amp else contextlib.nullcontext()
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    num_views = 2
    with context:
        for group in group_by_size(samples, lambda s: tuple(s.image.shape[-2:]), args.lookahead, args.max_group):
            images = torch.stack([s.image.to(weight.device, non_blocking=True) for s in group])
            image_index = torch.repeat_interleave(torch.arange(len(group)),
                                                  torch.tensor([s.class_ids.numel() for s in group]))
            for index in scale_order(len(args.scales)):
                steps = scale_schedule(args.steps)[0] if index == 1 else args.steps
                scaled = torch.stack([rescale_image(image, args.scales[index]) for image in images])
                for start, stop in climb_chunks(image_index.numel(), num_views, scaled.shape[-2:],
                                                max_batch_pixels=int(args.max_batch_pixels)):
                    x = scaled[image_index[start:stop].to(weight.device)]
                    x = torch.stack([x, x.flip(-1)], 1).flatten(0, 1).contiguous(memory_format=memory_format)
                    for t in range(steps):
                        climb = t < steps - 1
                        with torch.set_grad_enabled(climb):
                            x.requires_grad_(climb)
                            maps = class_maps(features_fn(x), weight)
                            if climb:
                                grad, = torch.autograd.grad(maps.sum(), x)
                                x = (x + 1e-3 * grad).detach()
    return None


def run_reference_loop(features, head, samples, args):
    """(b) the structure of obtain_CAM_masking.py + gradCAM.py (fp32, parameters requiring grad)."""
    pool = {}

    def save_fmap_and_grad(module, inputs, output):  # gradCAM.py's forward and backward hooks
        pool['fmap'] = output
        output.register_hook(lambda grad: pool.__setitem__('grad', grad))

    device = head.weight.device
    handle = features[-1].register_forward_hook(save_fmap_and_grad)
    results = []
    try:
        for sample in samples:
            image, ids = sample.image.to(device), sample.class_ids
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
            strided, high_res = aggregate_scale_maps(outputs_cam, image.shape[1:])
            results.append({'keys': ids, 'strided': strided, 'high_res': high_res})
    finally:
        handle.remove()
    return results


def map_difference(x, y):
    """max and mean |diff| of the normalised high-res maps of the images both have (with classes)."""
    pairs = [(p['high_res'].float().cpu(), q['high_res'].float().cpu()) for p, q in zip(x, y) if p['keys'].numel()]
    return (max((p - q).abs().max().item() for p, q in pairs),
            sum((p - q).abs().mean().item() for p, q in pairs) / len(pairs))


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    args.compile_options = None if args.compile is None else (
        True if args.compile == 'default' else {'mode': args.compile})
    torch.manual_seed(args.seed)
    features, head = build_classifier(args.arch)
    features.to(device)
    head.to(device)
    if args.channels_last:
        features.to(memory_format=torch.channels_last)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    weight = head.weight.detach()
    samples = make_samples(args, device)
    class_counts = [s.class_ids.numel() for s in samples]
    size_counts = {}
    for s in samples:
        size_counts[tuple(s.image.shape[1:])] = size_counts.get(tuple(s.image.shape[1:]), 0) + 1
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'
    print(f'device {device} ({name}), threads {torch.get_num_threads()}, torch {torch.__version__}, '
          f'{args.arch} OS16, steps {args.steps}, scales {args.scales}, amp {args.amp}, '
          f'channels_last {args.channels_last}, compile {args.compile}', flush=True)
    print(f'{len(samples)} images, sizes {dict(sorted(size_counts.items(), key=lambda kv: -kv[1]))}, '
          f'{np.mean(class_counts):.2f} classes per image (VOC train_aug: 1.56), look-ahead {args.lookahead}, '
          f'max group {args.max_group}, max batch pixels {args.max_batch_pixels:.3g}; (b) on '
          f'{min(args.reference_images, len(samples))} images', flush=True)

    largest_batch = {'views': 0, 'pixels': 0}

    def features_fn(x):
        if x.shape[0] * x.shape[2] * x.shape[3] > largest_batch['pixels']:
            largest_batch.update(views=x.shape[0], pixels=x.shape[0] * x.shape[2] * x.shape[3])
        return features(x)

    def set_parameters_grad(flag):
        for p in [*features.parameters(), *head.parameters()]:
            p.requires_grad_(flag)

    variants = []  # (tag, method, amp)
    for method in args.methods:
        for amp in ([None] if method == 'b' or args.amp == 'none' else [None, args.amp]):
            variants.append((method + (f'+{amp}' if amp else ''), method, amp))

    rounds = np.array_split(np.arange(len(samples)), max(1, args.rounds))

    def call(method, amp, chosen, run_args):
        set_parameters_grad(method == 'b')
        if method == 'a':
            return run_engine(features_fn, weight, chosen, run_args, amp)
        if method == 'c':
            return run_floor(features_fn, weight, chosen, run_args, amp)
        return run_reference_loop(features, head, chosen, run_args)

    def reference_share(indices):  # (b) runs on the first --reference-images images
        return [samples[i] for i in indices if i < args.reference_images]

    # Warm-up with 3 steps (a first, a middle and a last step) on every image: every batch shape, cuDNN
    # autotuning, the allocator, and with --compile every graph.
    warm = argparse.Namespace(**{**vars(args), 'steps': 3})
    for _, method, amp in variants:
        chosen = samples if method != 'b' else [samples[0]]
        call(method, amp, chosen, warm)
    stats = {tag: {'wall': 0.0, 'cpu': 0.0, 'peak': 0.0, 'rise': 0.0, 'images': 0, 'classes': 0, 'work': 0, 'maps': []}
             for tag, _, _ in variants}
    for indices in rounds:
        for tag, method, amp in variants:
            chosen = reference_share(indices) if method == 'b' else [samples[i] for i in indices]
            if not chosen:
                continue
            with PeakMemory(device) as memory:
                wall, cpu = time.perf_counter(), time.process_time()
                result = call(method, amp, chosen, args)
                if device.type == 'cuda':
                    torch.cuda.synchronize(device)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            entry = stats[tag]
            entry['wall'] += wall
            entry['cpu'] += cpu
            entry['images'] += len(chosen)
            entry['classes'] += sum(s.class_ids.numel() for s in chosen)
            entry['work'] += sum(s.class_ids.numel() * s.image.shape[1] * s.image.shape[2] for s in chosen)
            entry['peak'] = max(entry['peak'], memory.peak)
            entry['rise'] = max(entry['rise'], memory.rise)
            entry['maps'].extend(result or [])

    memory_kind = 'CUDA max allocated' if device.type == 'cuda' else 'peak RSS'
    rate, cpu_rate = {}, {}
    for tag, entry in stats.items():
        rate[tag] = entry['images'] / entry['wall']
        cpu_rate[tag] = entry['images'] / entry['cpu']
        line = f'({tag}) {rate[tag]:8.4f} images/s  {entry["wall"]:8.2f} s wall for {entry["images"]} images'
        line += f' ({entry["classes"] / entry["images"]:.2f} classes each)'
        if device.type == 'cpu':
            line += f'  {entry["cpu"]:8.2f} s CPU ({cpu_rate[tag]:.4f} images/CPU-s)'
        print(line + f'  {memory_kind} {entry["peak"]:.0f} MiB (+{entry["rise"]:.0f} over its start)', flush=True)
    if largest_batch['pixels']:
        rises = {tag: stats[tag]['rise'] for tag in stats if tag.startswith('a')}
        print(f'largest batch {largest_batch["views"]} views, {largest_batch["pixels"] / 1e6:.2f} M view pixels; '
              + ', '.join(f'({tag}) {rise * 2**20 / largest_batch["pixels"]:.0f} bytes per view pixel'
                          for tag, rise in rises.items()) + ' (peak rise / view pixels: max_batch_pixels = '
              'budget / this)')

    keys = ['wall', 'cpu'] if device.type == 'cpu' else ['wall']
    # Ratios per unit of work (classes x pixels), as (b) may run on fewer images than (a) and (c).
    per_work = {tag: {key: stats[tag][key] / stats[tag]['work'] for key in ('wall', 'cpu')} for tag in stats}
    for amp in [''] + ([f'+{args.amp}'] if args.amp != 'none' else []):
        if 'b' in stats and 'a' + amp in stats:
            print(f'b/a{amp} = ' + ', '.join(f'{per_work["b"][k] / per_work["a" + amp][k]:.2f} ({k})' for k in keys)
                  + '  speed-up of the engine over the authors\' loop shape (time per class x pixel)')
        if 'c' + amp in stats and 'a' + amp in stats:
            print(f'a/c{amp} = ' + ', '.join(f'{per_work["a" + amp][k] / per_work["c" + amp][k]:.3f} ({k})'
                                             for k in keys) + '  time of the engine over the floor')
    print('projected train_aug (10,582 images): ' + ', '.join(
        f'({tag}) {TRAIN_AUG_IMAGES / rate[tag] / 3600:.2f} h' for tag in stats if not tag.startswith('c')))
    if 'a' in stats and 'b' in stats and stats['b']['maps']:
        engine = stats['a']['maps'][:len(stats['b']['maps'])]  # both in input order, (b) on the first images
        print('(a) vs (b) maps: max |diff| {:.2e}, mean |diff| {:.2e} (same algorithm; fp32 rounding amplified by '
              'the climb)'.format(*map_difference(engine, stats['b']['maps'])))
    if args.amp != 'none' and 'a' in stats and f'a+{args.amp}' in stats:
        print(f'{args.amp} vs fp32 maps: max |diff| {{:.2e}}, mean |diff| {{:.2e}}'.format(
            *map_difference(stats[f'a+{args.amp}']['maps'], stats['a']['maps'])))
    best = max((tag for tag in stats if tag.startswith('a')), key=rate.get, default=None)
    if best and 'b' in stats and 'c' in stats:
        floor = best.replace('a', 'c', 1)
        if device.type == 'cuda':
            print(f'goals (H100/H200 class): ({best}) >= 4.4 images/s: {rate[best]:.2f}; b/{best} >= 25: '
                  f'{per_work["b"]["wall"] / per_work[best]["wall"]:.1f}; {best}/{floor} <= 1.1: '
                  f'{per_work[best]["wall"] / per_work[floor]["wall"]:.3f}')
        else:
            print(f'goals (CPU, CPU time): b/a >= 2.0: {per_work["b"]["cpu"] / per_work["a"]["cpu"]:.2f}; '
                  f'a/c <= 1.05: {per_work["a"]["cpu"] / per_work["c"]["cpu"]:.3f}')


if __name__ == '__main__':
    main()
