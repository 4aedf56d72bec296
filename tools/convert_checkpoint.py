"""Convert the authors' (IRN / AdvCAM) classifier or IRNet checkpoint into this project's layout.

    python tools/convert_checkpoint.py cam res50_cam.pth work_dirs/res50_cam_converted.pth
    python tools/convert_checkpoint.py irn res50_irn.pth work_dirs/res50_irn_converted.pth \\
        --config configs/advcam/irnet_r50_3ep_voc12aug.py

``cam``: ``net/resnet50_cam.py`` (``res50_cam.pth``) for ``CAMClassifier``
(configs/advcam/cam_r50_5ep_voc12aug.py); ``irn``: ``net/resnet50_irn.py``
(``res50_irn.pth``) for ``IRNet`` (configs/advcam/irnet_r50_3ep_voc12aug.py). The
output is an mmengine-style ``{'state_dict', 'meta'}`` written atomically;
``meta`` records the source file and its SHA-256 (and IRN's mean
displacement). With ``--config`` the result is loaded strictly into that
config's model before the tool reports success. A rerun on the same source
does nothing; another source over an existing output needs ``--force``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from advcam_mm.fileio.authors_checkpoints import (KINDS, AuthorsCheckpointError,  # noqa: E402
                                                  convert_authors_state_dict)
from advcam_mm.fileio.checkpoints import (CheckpointError, file_sha256, read_state_dict,  # noqa: E402
                                          save_checkpoint)

CONVERTER = 'advcam_mm.fileio.authors_checkpoints'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('kind', choices=KINDS, help="'cam' (res50_cam.pth) or 'irn' (res50_irn.pth)")
    parser.add_argument('src', help="the authors' checkpoint")
    parser.add_argument('dst', help='the converted checkpoint to write')
    parser.add_argument('--config', help='check that the result loads strictly into this config\'s model')
    parser.add_argument('--force', action='store_true', help='overwrite a dst converted from another source')
    return parser.parse_args()


def existing_conversion(dst, kind, sha256):
    """True when ``dst`` already holds this source's conversion; an error when it holds something else."""
    if not osp.exists(dst):
        return False
    _, meta = read_state_dict(dst)
    if meta.get('converter') == CONVERTER and meta.get('kind') == kind and meta.get('source_sha256') == sha256:
        return True
    raise CheckpointError(f'{dst} exists and is not the {kind} conversion of this source '
                          f'(its meta: source {meta.get("source")!r}, kind {meta.get("kind")!r}); '
                          f'pass --force to overwrite it')


def check_loads_strictly(config, dst, kind):
    from advcam_mm.stages.models import build_inference_model
    from advcam_mm.stages.runner import load_config
    build_inference_model(load_config(config), dst, what={'cam': 'classifier', 'irn': 'IRNet'}[kind])


def main():
    args = parse_args()
    sha256 = file_sha256(args.src) if osp.isfile(args.src) else None
    if sha256 is not None and not args.force and existing_conversion(args.dst, args.kind, sha256):
        print(f'{args.dst} is already the {args.kind} conversion of {args.src}; nothing to do')
    else:
        state_dict, _ = read_state_dict(args.src)
        conversion = convert_authors_state_dict(state_dict, args.kind, source=args.src)
        meta = dict(converter=CONVERTER, kind=args.kind, source=osp.abspath(args.src), source_sha256=sha256)
        meta.update({name: value.tolist() for name, value in conversion.extras.items()})
        save_checkpoint(args.dst, conversion.state_dict, meta)
        print(f'{args.src} ({len(state_dict)} keys) -> {args.dst} ({len(conversion.state_dict)} tensors):')
        for line in conversion.summary():
            print(f'  {line}')
    if args.config:
        check_loads_strictly(args.config, args.dst, args.kind)
        print(f'{args.dst} loads strictly into the model of {args.config}')


if __name__ == '__main__':
    try:
        main()
    except (AuthorsCheckpointError, CheckpointError, FileNotFoundError) as error:
        sys.exit(f'error: {error}')
