"""The AWS services the deployed code calls through boto3, by botocore service name.

The dependency layer ships boto3 and botocore with these services' models only
(``layers/build_deps.py`` prunes the rest, some 440 of them, and their entries in
``endpoints.json``): every client a Lambda function creates reads that file whole, and at
its full 1.2 MB that costs ~23 ms of each cold start. ``creator_chat.adapters.aws.clients``
refuses a service not listed here, so a new one is added here before any test can pass.

Kept free of imports: the layer build reads it without importing the package.
"""

AWS_SERVICES: frozenset[str] = frozenset(
    {
        "dynamodb",  # tables, Powertools idempotency
        "sqs",  # job queues
        "s3",  # uploads, exports
        "s3vectors",  # the $0-idle vector index
        "bedrock-runtime",  # embeddings, generation
        "bedrock-agent-runtime",  # rerank
        "apigatewaymanagementapi",  # WebSocket deltas
        "sts",  # botocore's assume-role credential providers, if a deployment configures one
        "xray",  # the X-Ray SDK's sampling client (outside Lambda; in Lambda it samples locally)
    }
)
