"""cdk-nag: the AWS Solutions rules run on the whole app; every exception carries a reason.

cdk-nag 3 runs as a CDK validation plugin: ``app.synth()`` (``python app.py``,
``cdk synth``, ``Template.from_stack``) fails on any finding that is not acknowledged,
and writes ``validation-report.json`` (with each acknowledgement and its reason) into the
cloud assembly.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: App) -> None:
    """Check every construct of ``app`` against the AWS Solutions rule pack."""
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one finding (``AwsSolutions-IAM5[Resource::*]``-style ids) on ``scope``.

    ``reason`` is required and says why the rule does not apply or what covers the risk.
    """
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {rule_id} needs a real reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
