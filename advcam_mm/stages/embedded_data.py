"""Stage: the embedded dataset (:mod:`advcam_mm.datasets.embedded_dataset`), generated once per setting.

Writes    ``<out>/VOCdevkit/VOC2012`` in VOC's layout with its generator manifest
          (``embedded_manifest.json``, written last), which later stages take as the
          dataset's identity (:func:`advcam_mm.stages.datasets.dataset_input`).
Settings  the generator's version, seed, counts and image size.

    python tools/make_embedded_dataset.py --out data/embedded [--seed 0]
"""
import argparse
import os.path as osp
import time

from ..datasets import embedded_dataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate the embedded VOC-layout dataset (synthetic)')
    parser.add_argument('--out', default='data/embedded', help='output root (dataset in <out>/VOCdevkit/VOC2012)')
    parser.add_argument('--seed', type=int, default=0, help='generator seed')
    parser.add_argument('--force', action='store_true', help='regenerate even when complete')
    return parser.parse_args(argv)


def status(args) -> str:
    voc_dir = osp.join(args.out, 'VOCdevkit', 'VOC2012')
    complete = embedded_dataset.is_complete(voc_dir, embedded_dataset.generation_params(seed=args.seed))
    return 'complete' if complete and not args.force else 'todo'


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    voc_dir = embedded_dataset.make_embedded_voc(args.out, seed=args.seed, force=args.force)
    print(f'{voc_dir}  ({time.perf_counter() - start:.1f} s)', flush=True)


if __name__ == '__main__':
    main()
