"""Registered components; importing this package registers them."""
from .pseudo_label_hook import AdvCAMPseudoLabelHook  # noqa: E402,F401
