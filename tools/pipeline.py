"""The whole AdvCAM recipe in one resumable command: classifier -> maps -> IRN -> masks -> segmentor -> tests.

    python tools/pipeline.py --preset embedded --methods cam advcam --jobs 2   # the embedded dataset, CPU
    python tools/pipeline.py --preset voc --num-procs 8                          # PASCAL VOC 2012 on 8 GPUs

The command line of advcam_mm.stages.pipeline, whose docstring says how steps run, skip and resume.
"""
from advcam_mm.stages.pipeline import main

if __name__ == '__main__':
    main()
