"""What MS COCO's size does to label generation: class-map bytes, and the memory of the random walk and CRF.

  (a) bytes: one class-map file per storage (``advcam_mm.fileio.cam_files``) of a ``--size``
      image (default 640x480) with 1..3 present classes; bytes per class and the projection
      for COCO train2014 (``--images`` 82,081 labelled images x ``--classes-per-image`` 2.87,
      the mean of CLIP-ES's coco14/train.txt labels);
  (b) fidelity, with ``--maps-dir`` (float16 files of ``tools/make_cams.py``) and ``--data-root``
      (their VOC-layout dataset): each file rewritten as uint8 and strided and read back:
      largest / mean change of ``high_res``, seed pixels that change, seed mIoU of ``--split``
      at ``--bg-threshold``;
  (c) memory: peak RSS above the inputs of ``refine_with_random_walk`` (sparse) and of the dense
      CRF (``crf_inference_label`` for seeds / IR labels; a segmentor's test-time CRF on an
      81-class softmax with 4 present classes, over all 81 classes as DeepLab-v2 and over the
      classes reaching ``class_floor``, ``advcam_mm.models.crf_postprocess``) at COCO sizes, each
      in a fresh process, with the time;
  (d) time of AdvCAM's climbing with a toy feature extractor: the head's class count vs the
      present classes (label generation should grow with the latter only).

Example: python benchmarks/coco_scale.py --maps-dir work_dirs/demo/advcam_maps \
    --data-root data/embedded/VOCdevkit/VOC2012 --split train --bg-threshold 0.13
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import numpy as np  # noqa: E402

from advcam_mm.fileio.cam_files import STORAGES, load_cam_file, save_cam_file  # noqa: E402


def file_bytes(size, storages=STORAGES):
    """{storage: (overhead bytes, bytes per present class)} of a file of an ``(H, W)`` image."""
    height, width = size
    strided_shape = (-(-height // 4), -(-width // 4))
    rng = np.random.default_rng(0)
    result = {}
    with tempfile.TemporaryDirectory() as folder:
        for storage in storages:
            sizes = []
            for classes in (1, 2, 3):
                path = osp.join(folder, f'{storage}_{classes}.npy')
                save_cam_file(path, np.arange(classes), rng.random((classes, *strided_shape)),
                              rng.random((classes, height, width)), storage=storage)
                sizes.append(os.path.getsize(path))
            per_class = (sizes[2] - sizes[0]) / 2
            result[storage] = (sizes[0] - per_class, per_class)
    return result


def fidelity(maps_dir, data_root, split, bg_threshold, num_classes):
    """Changes of ``high_res``, seeds and seed mIoU when the files are stored as uint8 / strided."""
    from PIL import Image

    from advcam_mm.core.miou import confusion_matrix, mean_iou
    from advcam_mm.core.seeds import seeds_from_maps
    with open(osp.join(data_root, 'ImageSets', 'Segmentation', f'{split}.txt')) as f:
        ids = [line.strip() for line in f if line.strip()]
    stats = {s: dict(max_abs=0.0, sum_abs=0.0, pixels=0, seed_changed=0,
                     confusion=np.zeros((num_classes, num_classes), np.int64)) for s in ('float16', 'uint8', 'strided')}
    with tempfile.TemporaryDirectory() as folder:
        for image_id in ids:
            reference = load_cam_file(osp.join(maps_dir, f'{image_id}.npy'))
            gt = np.array(Image.open(osp.join(data_root, 'SegmentationClass', f'{image_id}.png')))
            reference_seed = seeds_from_maps(reference['high_res'], reference['keys'], bg_threshold)
            for storage, record in stats.items():
                path = osp.join(folder, f'{storage}.npy')
                save_cam_file(path, reference['keys'], reference['cam'], reference['high_res'], storage=storage)
                maps = load_cam_file(path)
                change = np.abs(maps['high_res'] - reference['high_res'])
                record['max_abs'] = max(record['max_abs'], float(change.max()) if change.size else 0.0)
                record['sum_abs'] += float(change.sum())
                record['pixels'] += change.size
                seed = seeds_from_maps(maps['high_res'], maps['keys'], bg_threshold)
                record['seed_changed'] += int((seed != reference_seed).sum())
                record['seed_pixels'] = record.get('seed_pixels', 0) + seed.size
                record['confusion'] += confusion_matrix(seed, gt, num_classes)
    return {s: dict(max_abs=r['max_abs'], mean_abs=r['sum_abs'] / max(r['pixels'], 1),
                    seed_pixels_changed=r['seed_changed'], seed_pixels=r['seed_pixels'],
                    seed_miou=100 * float(mean_iou(r['confusion']))) for s, r in stats.items()}


# -- memory, each case in a fresh process -------------------------------------------------------------

def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _case_random_walk(height, width, classes):
    import torch
    from advcam_mm.core.random_walk import refine_with_random_walk
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    h4, w4 = -(-height // 4), -(-width // 4)
    cams = torch.from_numpy(rng.random((classes, h4, w4)).astype(np.float32))
    edge = torch.from_numpy((rng.random((h4, w4)) ** 4).astype(np.float32))
    base = _peak_rss_mib()
    start = time.perf_counter()
    refine_with_random_walk(cams, np.arange(classes), edge, (height, width))
    return dict(seconds=time.perf_counter() - start, peak_above_inputs_mib=_peak_rss_mib() - base)


def _case_crf_label(height, width, labels):
    from advcam_mm.core.crf import crf_inference_label
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    label_map = rng.integers(0, labels, (height, width))
    base = _peak_rss_mib()
    start = time.perf_counter()
    crf_inference_label(image, label_map, labels)
    return dict(seconds=time.perf_counter() - start, peak_above_inputs_mib=_peak_rss_mib() - base)


def coco_softmax(height, width, present, classes=81, seed=0):
    """An 81-class softmax as a segmentor gives it: ``present`` classes (background first) share the mass
    in smooth blobs, each other class has 1e-5 .. 5e-4 (below the CRF's class floor) at every pixel."""
    import cv2
    rng = np.random.default_rng(seed)
    logits = np.stack([cv2.GaussianBlur(rng.normal(0, 1, (height, width)), (0, 0), 40) for _ in range(present)])
    logits = 8 * logits / logits.std()
    probs = np.empty((classes, height, width), np.float32)
    probs[present:] = rng.uniform(1e-5, 5e-4, (classes - present, height, width))
    kept = np.exp(logits - logits.max(0))
    probs[:present] = kept / kept.sum(0) * (1 - probs[present:].sum(0))
    return probs


def _case_crf_prob(height, width, present, bounded=False):
    """DeepLab-v2's test-time CRF on an 81-class softmax: over all classes, or over those reaching the floor."""
    import torch
    from advcam_mm.core.crf import crf_inference_prob
    from advcam_mm.models.crf_postprocess import DEEPLAB_V2_CRF, bounded_crf_marginals
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    probs = coco_softmax(height, width, present)
    base = _peak_rss_mib()
    start = time.perf_counter()
    if bounded:
        bounded_crf_marginals(image, torch.from_numpy(probs), DEEPLAB_V2_CRF)
    else:
        crf_inference_prob(image, probs, **DEEPLAB_V2_CRF)
    return dict(seconds=time.perf_counter() - start, peak_above_inputs_mib=_peak_rss_mib() - base)


def _case_crf_prob_floor(height, width, present):
    return _case_crf_prob(height, width, present, bounded=True)


def _case_climb(size, categories, present):
    """AdvCAM's climbing (8 steps, flip) of ``present`` classes with a head over ``categories`` classes."""
    import torch
    from advcam_mm.core.advcam import adv_climb
    torch.manual_seed(0)
    torch.set_num_threads(1)
    features = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 7, stride=4, padding=3), torch.nn.ReLU(),
                                   torch.nn.Conv2d(64, 256, 3, stride=4, padding=1), torch.nn.ReLU())
    weight, image = torch.randn(categories, 256), torch.randn(3, size, size)
    base = _peak_rss_mib()
    start = time.perf_counter()
    adv_climb(features, weight, image, torch.arange(present), steps=8)
    return dict(seconds=time.perf_counter() - start, peak_above_inputs_mib=_peak_rss_mib() - base)


CASES = dict(random_walk=_case_random_walk, crf_label=_case_crf_label, crf_prob=_case_crf_prob,
             crf_prob_floor=_case_crf_prob_floor, climb=_case_climb)


def run_case(name, height, width, count):
    """Run one memory case in a fresh interpreter (peak RSS is per process)."""
    command = [sys.executable, osp.abspath(__file__), '--case', name, str(height), str(width), str(count)]
    output = subprocess.run(command, capture_output=True, text=True, check=True,
                            env=dict(os.environ, OMP_NUM_THREADS='1')).stdout
    return json.loads(output.strip().splitlines()[-1])


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, nargs=2, default=(480, 640), metavar=('H', 'W'))
    parser.add_argument('--images', type=int, default=82081, help='labelled COCO train2014 images')
    parser.add_argument('--classes-per-image', type=float, default=2.87)
    parser.add_argument('--maps-dir', help='float16 class-map files for (b)')
    parser.add_argument('--data-root', help='VOC-layout dataset of those maps (SegmentationClass, ImageSets)')
    parser.add_argument('--split', default='train')
    parser.add_argument('--bg-threshold', type=float, default=0.13)
    parser.add_argument('--num-classes', type=int, default=5, help='classes of that dataset, background included')
    parser.add_argument('--case', nargs=4, help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.case:
        name, *numbers = args.case
        print(json.dumps(CASES[name](*(int(n) for n in numbers))))
        return
    height, width = args.size
    print(f'(a) class-map file bytes, {height}x{width} image; projection: {args.images} images x '
          f'{args.classes_per_image} classes')
    for storage, (overhead, per_class) in file_bytes((height, width)).items():
        per_image = overhead + per_class * args.classes_per_image
        print(f'  {storage:8s} {per_class / 1e6:6.3f} MB per class, {per_image / 1e6:6.3f} MB per image, '
              f'total {per_image * args.images / 1e9:7.1f} GB')
    if args.maps_dir:
        print(f'(b) fidelity on {args.maps_dir} ({args.split}, background threshold {args.bg_threshold})')
        for storage, r in fidelity(args.maps_dir, args.data_root, args.split, args.bg_threshold,
                                   args.num_classes).items():
            print(f'  {storage:8s} high_res change max {r["max_abs"]:.4f} mean {r["mean_abs"]:.5f}; seed pixels '
                  f'changed {r["seed_pixels_changed"]} of {r["seed_pixels"]}; seed mIoU {r["seed_miou"]:.2f}')
    print('(c) peak memory above the inputs, one thread (crf_prob: test-time CRF of an 81-class softmax with '
          'N present classes, over all 81; crf_prob_floor: over those reaching class_floor)')
    for name, h, w, count in (('random_walk', 640, 640, 3), ('random_walk', 640, 640, 10),
                              ('crf_label', 640, 640, 4), ('crf_label', 640, 640, 11),
                              ('crf_prob', 480, 640, 4), ('crf_prob_floor', 480, 640, 4),
                              ('crf_prob', 640, 640, 4), ('crf_prob_floor', 640, 640, 4),
                              ('crf_prob_floor', 640, 640, 11)):
        r = run_case(name, h, w, count)
        unit = {'random_walk': 'classes', 'crf_label': 'labels'}.get(name, 'present')
        print(f'  {name:14s} {h}x{w}, {count:2d} {unit}: {r["peak_above_inputs_mib"]:7.1f} MiB, '
              f'{r["seconds"]:.1f} s')
    print('(d) AdvCAM climbing time (8 steps, flip, 320x320, toy features): present classes vs head size')
    for categories, present in ((20, 3), (80, 3), (320, 3), (80, 1), (80, 6)):
        r = run_case('climb', 320, categories, present)
        print(f'  {present} present of {categories:3d} classes: {r["seconds"]:.2f} s')


if __name__ == '__main__':
    main()
