"""Per-class IoU tables as the tools print them (class names from the dataset's metainfo)."""
import math
from typing import Dict, Sequence


def percent(value) -> str:
    return f'{"-":>6}' if value is None or (isinstance(value, float) and math.isnan(value)) else f'{100 * value:6.2f}'


def iou_table(class_names: Sequence[str], columns: Dict[str, Sequence[float]], mious: Dict[str, float]) -> str:
    """One row per class and a last ``mIoU`` row; one column per entry of ``columns`` (fractions)."""
    width = max([len(str(name)) for name in class_names] + [4])
    header = f'{"class":<{width}}' + ''.join(f' {name:>6}' for name in columns)
    lines = [header, '-' * len(header)]
    for index, name in enumerate(class_names):
        lines.append(f'{name:<{width}}' + ''.join(f' {percent(values[index])}' for values in columns.values()))
    lines.append('-' * len(header))
    lines.append(f'{"mIoU":<{width}}' + ''.join(f' {percent(mious[name])}' for name in columns))
    return '\n'.join(lines)


def without_nan(value):
    """``value`` with NaN floats replaced by None (strict JSON)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, tuple)):
        return [without_nan(v) for v in value]
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    return value
