"""A stand-in stage for the pipeline scheduler's tests: it writes ``<out>/done`` (with its start and end
times) and is complete when that file exists; it can fail, or refuse as a stage made otherwise does."""
import argparse
import json
import os
import time

from advcam_mm.stages.output_folder import StageMismatchError


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', required=True)
    parser.add_argument('--sleep', type=float, default=0.0)
    parser.add_argument('--fail', action='store_true')
    parser.add_argument('--refuse', action='store_true')
    parser.add_argument('--regenerate', action='store_true')
    return parser.parse_args(argv)


def status(args) -> str:
    if args.refuse and not args.regenerate:
        raise StageMismatchError(f'{args.out}: made with other settings (recorded -> now):\n  settings.x: 1 -> 2')
    return 'complete' if os.path.isfile(os.path.join(args.out, 'done')) else 'todo'


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    time.sleep(args.sleep)
    print(f'fake stage writing {args.out}', flush=True)
    if args.fail:
        print('boom: the stage failed', flush=True)
        raise SystemExit(3)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'done'), 'w') as f:
        json.dump(dict(start=start, end=time.time(), regenerate=args.regenerate,
                       threads=int(os.environ.get('OMP_NUM_THREADS', 0))), f)
