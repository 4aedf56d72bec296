"""Registered components; importing this package registers them."""
from . import transforms, voc_classification, voc_segmentation  # noqa: F401  (registration)
from . import irn_transforms  # noqa: E402,F401  (registration)
from . import semi_supervised_dataset, semi_supervised_sampler, voc_split_difference  # noqa: E402,F401  (CCT, registration)
from . import coco_classification, coco_segmentation  # noqa: E402,F401  (MS COCO 2014, registration)
