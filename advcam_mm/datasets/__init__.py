"""Registered components; importing this package registers them."""
from . import transforms, voc_classification, voc_segmentation  # noqa: F401  (registration)
from . import irn_transforms  # noqa: E402,F401  (registration)
