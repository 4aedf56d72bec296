"""Train a config's model with MMEngine's Runner (classifier, IRNet, segmentor, CCT).

The command line of advcam_mm.stages.training, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.training import main

if __name__ == '__main__':
    main()
