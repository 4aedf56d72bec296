from setuptools import find_packages, setup

setup(
    name='advcam_mm',
    version='0.1.0',
    description='AdvCAM (CVPR 2021) weakly/semi-supervised segmentation as an MMSegmentation 1.x plugin',
    packages=find_packages(include=['advcam_mm', 'advcam_mm.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.0',
        'torchvision>=0.15',
        'numpy',
        'opencv-python-headless',
        'pillow',
        'scipy',
        'matplotlib',
        'mmengine>=0.10.0,<0.11',
        'mmsegmentation>=1.2.0,<1.3',
        'ftfy',
        'regex',
        'pydensecrf2',
        'pycocotools',
    ],
    extras_require={
        # CPU machines / no CUDA toolchain: mmcv without compiled ops (advcam_mm.compat fills in).
        'mmcv-lite': ['mmcv-lite>=2.0.0,<2.2.0'],
        # GPU users keep full mmcv with its compiled ops.
        'mmcv-full': ['mmcv>=2.0.0,<2.2.0'],
        'tests': ['pytest'],
    },
)
