"""Test a segmentor checkpoint on a config's test set (single scale, or multi-scale + flip, +CRF).

The command line of advcam_mm.stages.testing, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.testing import main

if __name__ == '__main__':
    main()
