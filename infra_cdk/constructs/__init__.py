"""One construct per concern; ``infra_cdk.stack`` only composes them."""
