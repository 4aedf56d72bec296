# Where the embedded dataset lives and its classes (advcam_mm.datasets.embedded_dataset): the one
# copy every embedded dataset base reads, as {{_base_.embedded_data_root}} and
# {{_base_.embedded_metainfo}} (names distinct from data_root/metainfo, so this file can sit beside
# the VOC dataset base it changes; label_evaluation is VOC's: train, SegmentationClass), and, through
# ../embedded_scale.py, the settings that follow from its image size.
_base_ = ['../embedded_scale.py']
embedded_data_root = 'data/embedded/VOCdevkit/VOC2012'
embedded_metainfo = dict(
    classes=('background', 'beetle', 'kite', 'lantern', 'snail'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]])
