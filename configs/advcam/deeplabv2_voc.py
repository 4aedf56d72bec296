# The command users type for AdvCAM's weakly supervised DeepLab-v2 on VOC 2012: the authors' recipe.
#   python tools/train.py configs/advcam/deeplabv2_voc.py
_base_ = ['./deeplabv2_r101_30k_voc12aug.py']
