"""The CDK app of creator-chat: one stack per environment, built from the shared declaration.

The tables, queues, buckets, functions, routes and workers come from
``creator_chat.resources.DECLARATION`` (the same declaration the local runtime reads);
``infra_cdk.config`` holds what differs between dev, staging and prod.
"""
