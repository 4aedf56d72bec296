"""The climbing animation: AdvCAM's accumulated map after each step of one climb, as a GIF.

The command line of advcam_mm.stages.climb_animation, whose docstring lists its inputs, outputs and settings.
"""
from advcam_mm.stages.climb_animation import main

if __name__ == '__main__':
    main()
