"""Tools for testing protocol models, ours and users' alike.

>>> from firesale.testing import check_protocol_model
"""

from firesale.testing._conformance import check_protocol_model, flat_quotes

__all__ = ["check_protocol_model", "flat_quotes"]
