#!/usr/bin/env python3
"""The CDK app: ``cdk synth -c env=prod`` or, offline, ``python app.py --env dev staging prod``.

Makes no AWS call. See infra_cdk/application.py for the context keys.

    python app.py                                   # as `cdk synth` runs it (context from it)
    python app.py --env dev staging prod --outdir cdk.out   # → cdk.out/<env>, in one process
    python app.py --env prod --deps-layer-dir build/deps-layer
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra_cdk.application import DependencyLayerMissing, build_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--env", nargs="+", metavar="ENV", help="environments to synthesise (dev staging prod)"
    )
    parser.add_argument(
        "--outdir", type=Path, default=Path("cdk.out"), help="each environment goes to OUTDIR/ENV"
    )
    parser.add_argument("--deps-layer-dir", help="the built dependency layer (its folder)")
    args = parser.parse_args(argv)
    try:
        if not args.env:  # `cdk synth`: the CLI passes context and the output dir
            app, _ = build_app()
            app.synth()
            return
        for env in args.env:
            context = {"env": env}
            if args.deps_layer_dir:
                context["deps_layer_dir"] = args.deps_layer_dir
            outdir = args.outdir / env
            app, stack = build_app(context, outdir=str(outdir))
            app.synth()
            print(f"{stack.stack_name}: {outdir / stack.template_file}")
    except DependencyLayerMissing as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
