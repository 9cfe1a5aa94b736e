"""The AWS family: DynamoDB, SQS, S3, OpenSearch Serverless, ElastiCache (Redis), Bedrock.

Deployed functions use these; locally they run only against an explicit emulator (moto, with
``creator-chat serve --aws-emulator``) or LocalStack (``AWS_ENDPOINT_URL``). moto is a test
tool here: it never sits in the default serving path.
"""
