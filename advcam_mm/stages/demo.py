"""``make demo``: the paper's comparison on the embedded dataset, on CPU, ending in one table.

The embedded preset of :mod:`.pipeline` with both chains, CAM and AdvCAM, through
seeds, + CRF, IRN masks and DeepLab-v2 with identical settings and budgets
(Table 1 and Table 4's rows), CCT (semi-supervised: the pixel-labelled
``train`` split plus the AdvCAM masks) next to DeepLab-v2 (weak) with the
same budget, every segmentor tested single scale and MS + flip + CRF; the
Fig. 6a/b analysis; a picture that follows one image through the chain. Two
steps run at once (2 cores: the CAM chain beside the AdvCAM maps). Then the
table, the paper's figures beside it, the orderings the paper has and whether
they hold here, and the same figures in ``<work_dir>/summary.json``.

``--seed N`` draws another embedded dataset (``data/embedded_seedN``,
``work_dirs/demo_seedN``); a rerun skips every finished stage.
"""
import argparse
import os.path as osp
import time

from .pipeline import PRESETS, Recipe
from .scheduler import run_steps

#: The paper's figures on PASCAL VOC 2012 (mIoU %, CAM -> AdvCAM; Tables 1, 4 and 6). DeepLab-v2 and CCT
#: were tested with multi-scale inference and CRF (the authors, jbeomlee93/AdvCAM #9 and #12).
PAPER = {'seed': (48.8, 55.6), 'seed_crf': (54.3, 62.1), 'mask': (66.3, 69.9),
         'deeplab': {'ms_flip_crf': (63.5, 68.1)}, 'cct': {'ms_flip_crf': (73.2, 77.8)}}
ANALYSIS_IMAGES = 20


def orderings(results: dict) -> list:
    """``(statement, holds)`` for every ordering of the paper that the demo's table can show."""
    checks = []

    def compare(statement, low, high):
        checks.append((statement, low is not None and high is not None and high > low))
    for key, name in (('seed', 'seed'), ('seed_crf', 'seed + CRF'), ('mask', 'IRN mask')):
        compare(f'AdvCAM above CAM: {name}', results['cam'][key], results['advcam'][key])
    for protocol in results['advcam']['deeplab']:
        compare(f'AdvCAM above CAM: DeepLab-v2 ({protocol})', results['cam']['deeplab'][protocol],
                results['advcam']['deeplab'][protocol])
    for method in ('cam', 'advcam'):
        compare(f'{method}: seed + CRF above seed', results[method]['seed'], results[method]['seed_crf'])
        compare(f'{method}: IRN mask above seed + CRF', results[method]['seed_crf'], results[method]['mask'])
    for protocol in results.get('cct', {}):
        compare(f'CCT (semi) above DeepLab-v2 (weak) ({protocol})', results['advcam']['deeplab'][protocol],
                results['cct'][protocol])
    return checks


def demo_recipe(seed: int = 0, work_dir=None, data_root=None) -> Recipe:
    suffix = '' if seed == 0 else f'_seed{seed}'
    data_root = data_root or f'data/embedded{suffix}/VOCdevkit/VOC2012'
    return Recipe(work_dir=work_dir or f'work_dirs/demo{suffix}', data_root=data_root,
                  dataset_step=['--out', osp.dirname(osp.dirname(data_root)), '--seed', str(seed)],
                  methods=('cam', 'advcam'), analysis_images=ANALYSIS_IMAGES, panels=1, **PRESETS['embedded'])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="The paper's comparison on the embedded dataset (CPU)")
    parser.add_argument('--seed', type=int, default=0, help='generator seed of the embedded dataset')
    parser.add_argument('--work-dir', help='default work_dirs/demo (seed 0) or work_dirs/demo_seedN')
    parser.add_argument('--jobs', type=int, default=2, help='stages run at once (default 2: two cores)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    recipe = demo_recipe(args.seed, args.work_dir)
    start = time.perf_counter()
    run_steps(recipe.steps(), jobs=args.jobs, log_dir=recipe.path('logs'))
    summary = recipe.write_summary()
    print(f'\nAdvCAM on the embedded dataset (generator seed {args.seed}), mIoU %; stages took '
          f'{(time.perf_counter() - start) / 60:.1f} min:')
    print(recipe.summary_table(PAPER))
    print("\nThe paper's orderings here:")
    for statement, holds in orderings(recipe.results()):
        print(f"  [{'x' if holds else ' '}] {statement}")
    print(f"\nfigures: {summary}; pictures: {recipe.path('panels')}, {recipe.path('analysis', 'fig6ab.png')}")


if __name__ == '__main__':
    main()
