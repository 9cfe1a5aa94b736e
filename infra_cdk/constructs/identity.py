"""Cognito: the user pool fans, creators and operators sign in to, and the app client.

The authorizer Lambda verifies the pool's tokens (RS256, keys from the pool's JWKS) and
reads ``custom:role``, ``custom:tier`` and ``custom:creator_id``, which only an
administrator can set: the app client may read them but not write them.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra_cdk.config import EnvConfig
from infra_cdk.nag import acknowledge

_CUSTOM_ATTRIBUTES = ("role", "tier", "creator_id")


class IdentityConstruct(Construct):
    def __init__(self, scope: Construct, id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            custom_attributes={
                name: cognito.StringAttribute(min_len=1, max_len=64, mutable=True)
                for name in _CUSTOM_ATTRIBUTES
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            deletion_protection=config.deletion_protection,
            removal_policy=config.removal_policy,
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG2",
            "Fans sign up from consumer apps, where mandatory MFA would stop most of them; "
            "TOTP MFA is offered to every user (optional, no SMS).",
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG8",
            "Threat protection (Plus feature plan) is a per-MAU cost decision left to the "
            "product owner; per-user quotas and API throttling bound abuse meanwhile.",
        )
        self.client = self.user_pool.add_client(
            "AppClient",
            generate_secret=False,  # public clients (browser, mobile) cannot keep a secret
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True)
            .with_custom_attributes(*_CUSTOM_ATTRIBUTES),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True),
        )
        region = Stack.of(self).region
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{self.user_pool.user_pool_id}"
        self.jwks_url = f"{self.issuer}/.well-known/jwks.json"
        # ID tokens carry the client id in ``aud``; access tokens carry it in ``client_id``.
        self.audience = self.client.user_pool_client_id
