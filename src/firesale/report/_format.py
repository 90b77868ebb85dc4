"""Numbers as a risk team reads them: dollars with k/M/B, probabilities in percent, durations in h or d."""

from __future__ import annotations

import math

__all__ = ["count", "duration", "money", "money_se", "percent", "ratio"]

_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def _num(value: float | None) -> float | None:
    """``value`` as a float, or None when it is missing or not finite (shown as "n/a")."""
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


def _scale(value: float) -> tuple[float, str]:
    for size, suffix in _SCALES:
        if abs(value) >= size:
            return size, suffix
    return 1.0, ""


def money(value: float | None) -> str:
    """Dollars with a k/M/B/T suffix and three significant digits: ``money(3.4e6) == '$3.40M'``.

    >>> money(3_400_000), money(545.2), money(-12_345), money(float("nan"))
    ('$3.40M', '$545', '-$12.3k', 'n/a')
    """
    v = _num(value)
    if v is None:
        return "n/a"
    size, suffix = _scale(v)
    sign = "-" if v < 0 else ""
    scaled = abs(v) / size
    if not suffix:
        return f"{sign}${scaled:,.0f}"
    digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
    return f"{sign}${scaled:.{digits}f}{suffix}"


def money_se(value: float | None, se: float | None) -> str:
    """A standard error in the unit of its estimate, so the two read together: ``$3.40M ± $0.20M``.

    >>> money_se(3_400_000, 200_000), money_se(545.2, 0.0), money_se(1.0, None)
    ('$0.20M', '$0', 'n/a')
    """
    s, v = _num(se), _num(value)
    if s is None:
        return "n/a"
    size, suffix = _scale(v) if v is not None else (1.0, "")
    scaled = s / size
    if not suffix:
        return f"${scaled:,.0f}"
    return f"${scaled:.2f}{suffix}"


def percent(value: float | None) -> str:
    """A probability in percent, two decimals (exact 0 and 1 without them).

    >>> percent(0.0123), percent(0.0), percent(1.0), percent(None)
    ('1.23%', '0%', '100%', 'n/a')
    """
    v = _num(value)
    if v is None:
        return "n/a"
    if v in (0.0, 1.0):
        return f"{v * 100:.0f}%"
    return f"{v * 100:.2f}%"


def ratio(value: float | None) -> str:
    """A multiplier such as an amplification, three decimals.

    >>> ratio(1.125311), ratio(float("nan"))
    ('1.125×', 'n/a')
    """
    v = _num(value)
    return "n/a" if v is None else f"{v:.3f}×"


def count(value: float | None) -> str:
    """A count with thousands separators, up to four significant digits for non-integers.

    >>> count(10000), count(859.0), count(2.5)
    ('10,000', '859', '2.5')
    """
    v = _num(value)
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if v.is_integer() else f"{v:,.4g}"


def duration(seconds: float | None) -> str:
    """Seconds as s, min, h or d, whichever reads best.

    >>> duration(7200), duration(90), duration(3 * 86400), duration(2.2)
    ('2 h', '1.5 min', '3 d', '2.2 s')
    """
    s = _num(seconds)
    if s is None:
        return "n/a"
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if s >= size:
            return f"{s / size:.4g} {unit}"
    return f"{s:.2g} s" if s < 10 else f"{s:.0f} s"
