"""Mitigations as policies: a trigger, an action on a protocol through its contract, a delay, a release rule.

Scenario entries ``[[policies]]`` (:class:`PolicySpec`); the engine runs them once per step (:class:`PolicyPlan`);
the loader checks them against the scenario (:func:`check_policies`). See ``docs/policies.md``.
"""

from firesale.policies._checks import check_policies
from firesale.policies.runner import PolicyPlan
from firesale.policies.spec import ActionSpec, PolicySpec, TriggerSpec

__all__ = ["ActionSpec", "PolicyPlan", "PolicySpec", "TriggerSpec", "check_policies"]
