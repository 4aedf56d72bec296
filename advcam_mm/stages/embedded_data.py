"""Stage: the embedded dataset (:mod:`advcam_mm.datasets.embedded_dataset`), generated once per setting.

Writes    ``<out>/VOCdevkit/VOC2012`` in VOC's layout with its generator manifest
          (``embedded_manifest.json``, written last), which later stages take as the
          dataset's identity (:func:`advcam_mm.stages.datasets.dataset_input`).
Settings  the generator's version, seed, counts and image size.

    python tools/make_embedded_dataset.py --out data/embedded [--seed 0]
"""
import argparse
import json
import os.path as osp
import time

from ..datasets import embedded_dataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate the embedded VOC-layout dataset (synthetic)')
    parser.add_argument('--out', default='data/embedded', help='output root (dataset in <out>/VOCdevkit/VOC2012)')
    parser.add_argument('--seed', type=int, default=0, help='generator seed')
    # the generator's own defaults (advcam_mm.datasets.embedded_dataset.generation_params) where not given
    parser.add_argument('--num-train', type=int, help='train_aug images (160)')
    parser.add_argument('--num-train-subset', type=int, help='of them, the pixel-labelled train split (60)')
    parser.add_argument('--num-val', type=int, help='val images (40)')
    parser.add_argument('--image-size', type=int, help='square image side in pixels (128)')
    parser.add_argument('--force', action='store_true', help='regenerate even when complete')
    return parser.parse_args(argv)


def _generation_args(args) -> dict:
    given = dict(num_train=args.num_train, num_val=args.num_val, num_train_subset=args.num_train_subset,
                 image_size=args.image_size, seed=args.seed)
    return {key: value for key, value in given.items() if value is not None}


def status(args) -> str:
    voc_dir = osp.join(args.out, 'VOCdevkit', 'VOC2012')
    complete = embedded_dataset.is_complete(voc_dir, embedded_dataset.generation_params(**_generation_args(args)))
    return 'complete' if complete and not args.force else 'todo'


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    voc_dir = embedded_dataset.make_embedded_voc(args.out, force=args.force, **_generation_args(args))
    print(f'{voc_dir}  ({time.perf_counter() - start:.1f} s)')
    with open(osp.join(voc_dir, embedded_dataset.MANIFEST_NAME)) as f:
        manifest = json.load(f)
    stats = manifest['statistics']
    print('  ' + ', '.join(f'{split}: {len(ids)}' for split, ids in manifest['splits'].items())
          + f'; classes: {", ".join(embedded_dataset.EMBEDDED_CLASSES)}')
    print(f"  per image: {stats['classes_per_image']:.2f} classes, {stats['objects_per_image']:.2f} objects, "
          f"{100 * stats['foreground_fraction']:.0f} % foreground (VOC: 1.56, 2.38, ~30 %; README.txt beside "
          f"the dataset says what each property mirrors)", flush=True)


if __name__ == '__main__':
    main()
