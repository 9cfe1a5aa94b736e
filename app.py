#!/usr/bin/env python3
"""The CDK app: ``cdk synth -c env=prod`` or, offline, ``CDK_OUTDIR=cdk.out python app.py``.

Makes no AWS call. See infra_cdk/application.py for the context keys.
"""

from __future__ import annotations

import sys

from infra_cdk.application import DependencyLayerMissing, build_app


def main() -> None:
    try:
        app, _ = build_app()
    except DependencyLayerMissing as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
