"""`make demo`: the paper's comparison (CAM and AdvCAM chains, DeepLab-v2, CCT, Fig. 6) on the embedded dataset.

    python tools/demo.py [--seed N]

The command line of advcam_mm.stages.demo, whose docstring says what it runs and prints.
"""
from advcam_mm.stages.demo import main

if __name__ == '__main__':
    main()
