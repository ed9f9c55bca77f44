"""Jobs API: create the AppSync API and its tables, or attach to the studio's.

create: an AppSync GraphQL API built from ``renderlib/jobs/schema.graphql``,
whose every Query and Mutation field is resolved by one Python Lambda
(``handlers/jobs_resolver.handler``) as a direct Lambda data source; DynamoDB
tables Job (``byStatus`` index, stream of new and old images), JobEvent,
RenderRun and GenerationRun. The farm's roles call it with IAM; studios with
Cognito user pool tokens or the API key.

attach: nothing is created but, for api_key auth, a Secrets Manager secret with
the studio API's key. The endpoint, auth mode, API ARN and Job stream ARN come
from stack config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import graphql
import pulumi
import pulumi_aws as aws

from infra.lambda_package import ARCHITECTURE, RUNTIME
from infra.policy_docs import allow, document, service_trust
from infra.settings import Settings

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "renderlib" / "jobs" / "schema.graphql"
RESOLVER_HANDLER = "handlers.jobs_resolver.handler"

# table key -> (hash key, indexes {name: (hash, range or None)}, stream view or None)
TABLES: dict[str, tuple[str, dict[str, tuple[str, str | None]], str | None]] = {
    "Job": ("id", {"byStatus": ("status", "createdAt")}, "NEW_AND_OLD_IMAGES"),
    "JobEvent": ("id", {"byJob": ("jobId", "createdAt")}, None),
    "RenderRun": ("id", {"byJob": ("jobId", None)}, None),
    "GenerationRun": ("id", {}, None),
    "RenderChunk": (
        "id",
        {"byJob": ("jobId", "createdAt"), "byStatus": ("status", "createdAt")},
        None,
    ),
}
TABLE_ENV = {
    "Job": "JOB_TABLE",
    "JobEvent": "JOB_EVENT_TABLE",
    "RenderRun": "RENDER_RUN_TABLE",
    "GenerationRun": "GENERATION_RUN_TABLE",
    "RenderChunk": "RENDER_CHUNK_TABLE",
}


def root_fields(schema_sdl: str) -> list[tuple[str, str]]:
    """(type, field) of every Query and Mutation field in the schema, in schema order."""
    document_ast = graphql.parse(schema_sdl)
    roots = {"query": "Query", "mutation": "Mutation"}
    for definition in document_ast.definitions:
        if isinstance(definition, graphql.SchemaDefinitionNode):
            for op in definition.operation_types:
                if op.operation.value in roots:
                    roots[op.operation.value] = op.type.name.value
    wanted = set(roots.values())
    fields = []
    for definition in document_ast.definitions:
        if (
            isinstance(
                definition, (graphql.ObjectTypeDefinitionNode, graphql.ObjectTypeExtensionNode)
            )
            and definition.name.value in wanted
        ):
            fields += [(definition.name.value, f.name.value) for f in definition.fields or ()]
    return fields


@dataclass
class JobsApiArgs:
    settings: Settings
    account_id: pulumi.Input[str]
    code: pulumi.Archive
    layer_arn: pulumi.Input[str]
    # The IAM roles the resolver treats as the farm (renderlib.jobs.authorization).
    farm_role_arns: list[pulumi.Input[str]]
    # The render bucket: the resolver presigns RenderRun.mp4Url/posterUrl under renders/.
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    schema_path: Path = SCHEMA_PATH


class JobsApi(pulumi.ComponentResource):
    endpoint: pulumi.Output[str]
    job_stream_arn: pulumi.Output[str]
    # What the farm's roles may call with IAM (None when they do not sign with IAM).
    api_arn: pulumi.Output[str] | None
    # How the dispatcher and worker authenticate: iam (create), or the attach config.
    farm_auth: str
    api_key_secret_arn: pulumi.Output[str] | None = None
    # create mode only: what studios use. The key itself stays in Secrets Manager.
    studio_api_key_secret_arn: pulumi.Output[str] | None = None
    user_pool_id: pulumi.Output[str] | None = None
    user_pool_client_id: pulumi.Output[str] | None = None

    def __init__(self, name: str, args: JobsApiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("babulus:render:JobsApi", name, None, opts)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)
        if args.settings.jobs_api.mode == "create":
            self._create(args)
        else:
            self._attach(args)
        outputs = {"endpoint": self.endpoint, "jobStreamArn": self.job_stream_arn}
        if self.user_pool_id is not None:
            outputs["userPoolId"] = self.user_pool_id
        self.register_outputs(outputs)

    def _attach(self, args: JobsApiArgs) -> None:
        api = args.settings.jobs_api
        self.endpoint = pulumi.Output.from_input(api.endpoint)
        self.job_stream_arn = pulumi.Output.from_input(api.job_stream_arn)
        self.api_arn = pulumi.Output.from_input(api.api_arn) if api.auth == "iam" else None
        self.farm_auth = api.auth
        if api.auth == "api_key":
            secret = aws.secretsmanager.Secret(
                f"{self._name}-api-key",
                name=f"{args.settings.name_prefix}/jobs-api-key",
                description="API key of the studio's jobs API, for the dispatcher and worker",
                recovery_window_in_days=7,
                opts=self._child,
            )
            aws.secretsmanager.SecretVersion(
                f"{self._name}-api-key",
                secret_id=secret.id,
                secret_string=api.api_key,
                opts=self._child,
            )
            self.api_key_secret_arn = secret.arn

    def _create(self, args: JobsApiArgs) -> None:
        settings, child, name = args.settings, self._child, self._name
        prefix = settings.name_prefix
        tables = {key: self._table(prefix, key, *spec) for key, spec in TABLES.items()}

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-resolver-logs",
            name=f"/aws/lambda/{prefix}-jobs-resolver",
            retention_in_days=settings.log_retention_days,
            opts=child,
        )
        table_arns = [t.arn for t in tables.values()]
        index_arns = [
            pulumi.Output.concat(tables[key].arn, "/index/*")
            for key, (_hash, indexes, _stream) in TABLES.items()
            if indexes
        ]
        resolver_role = aws.iam.Role(
            f"{name}-resolver",
            name=f"{prefix}-jobs-resolver",
            assume_role_policy=service_trust("lambda.amazonaws.com", None),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-resolver",
            role=resolver_role.id,
            policy=document(
                [
                    # What renderlib.jobs.dynamo_store calls: reads by key and by index
                    # only, no Scan, no delete.
                    allow(
                        [
                            "dynamodb:GetItem",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                            "dynamodb:Query",
                        ],
                        table_arns + index_arns,
                        sid="ReadWriteJobTables",
                    ),
                    allow(
                        ["logs:CreateLogStream", "logs:PutLogEvents"],
                        [pulumi.Output.concat(log_group.arn, ":*")],
                        sid="WriteResolverLogs",
                    ),
                    # A presigned URL acts with its signer's rights: reading renders only.
                    allow(
                        ["s3:GetObject"],
                        [pulumi.Output.concat(args.bucket_arn, "/renders/*")],
                        sid="PresignRenderLinks",
                    ),
                ]
            ),
            opts=child,
        )
        resolver = aws.lambda_.Function(
            f"{name}-resolver",
            name=f"{prefix}-jobs-resolver",
            description="Jobs API resolver: every Query and Mutation field",
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=RESOLVER_HANDLER,
            role=resolver_role.arn,
            code=args.code,
            layers=[args.layer_arn],
            timeout=10,
            memory_size=256,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    **{env: tables[key].name for key, env in TABLE_ENV.items()},
                    "DEFAULT_MAX_RETRIES": str(settings.max_retries),
                    "FARM_ROLE_ARNS": pulumi.Output.all(*args.farm_role_arns).apply(",".join),
                    "RENDER_BUCKET": args.bucket_name,
                    **(
                        {"API_KEY_ORG_ID": settings.jobs_api.api_key_org}
                        if settings.jobs_api.api_key_org
                        else {}
                    ),
                }
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text",
                log_group=log_group.name,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )

        user_pool = aws.cognito.UserPool(
            f"{name}-studios",
            name=f"{prefix}-studios",
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(
                allow_admin_create_user_only=True,
            ),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
            ),
            opts=child,
        )
        client = aws.cognito.UserPoolClient(
            f"{name}-studios",
            name=f"{prefix}-studios",
            user_pool_id=user_pool.id,
            generate_secret=False,
            explicit_auth_flows=[
                "ALLOW_USER_SRP_AUTH",
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ],
            prevent_user_existence_errors="ENABLED",
            opts=child,
        )

        schema = args.schema_path.read_text()
        api = aws.appsync.GraphQLApi(
            f"{name}-api",
            name=f"{prefix}-jobs",
            authentication_type="AWS_IAM",
            additional_authentication_providers=[
                aws.appsync.GraphQLApiAdditionalAuthenticationProviderArgs(
                    authentication_type="AMAZON_COGNITO_USER_POOLS",
                    user_pool_config=aws.appsync.GraphQLApiAdditionalAuthenticationProviderUserPoolConfigArgs(  # noqa: E501
                        user_pool_id=user_pool.id,
                        aws_region=settings.region,
                    ),
                ),
                aws.appsync.GraphQLApiAdditionalAuthenticationProviderArgs(
                    authentication_type="API_KEY",
                ),
            ],
            schema=schema,
            xray_enabled=True,
            opts=child,
        )
        api_key = aws.appsync.ApiKey(
            f"{name}-studio-key",
            api_id=api.id,
            description="Studio access to the jobs API",
            expires=settings.jobs_api.api_key_expires,
            opts=child,
        )

        invoke_role = aws.iam.Role(
            f"{name}-appsync-invoke",
            name=f"{prefix}-jobs-appsync",
            assume_role_policy=service_trust("appsync.amazonaws.com", args.account_id),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-appsync-invoke",
            role=invoke_role.id,
            policy=document(
                [allow(["lambda:InvokeFunction"], [resolver.arn], sid="InvokeTheResolver")]
            ),
            opts=child,
        )
        data_source = aws.appsync.DataSource(
            f"{name}-resolver",
            api_id=api.id,
            name="jobsResolver",
            type="AWS_LAMBDA",
            service_role_arn=invoke_role.arn,
            lambda_config=aws.appsync.DataSourceLambdaConfigArgs(function_arn=resolver.arn),
            opts=child,
        )
        # Direct Lambda resolvers (no mapping templates): the field's full context goes to
        # the handler, which dispatches on info.parentTypeName / info.fieldName.
        for type_name, field in root_fields(schema):
            aws.appsync.Resolver(
                f"{name}-{type_name}-{field}",
                api_id=api.id,
                type=type_name,
                field=field,
                kind="UNIT",
                data_source=data_source.name,
                opts=child,
            )

        self.endpoint = api.uris["GRAPHQL"]
        self.job_stream_arn = tables["Job"].stream_arn
        self.api_arn = api.arn
        self.farm_auth = "iam"
        studio_key_secret = aws.secretsmanager.Secret(
            f"{name}-studio-key",
            name=f"{prefix}/studio-api-key",
            description="API key studios use to call the jobs API",
            recovery_window_in_days=7,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-studio-key",
            secret_id=studio_key_secret.id,
            secret_string=api_key.key,
            opts=child,
        )
        self.studio_api_key_secret_arn = studio_key_secret.arn
        self.user_pool_id = user_pool.id
        self.user_pool_client_id = client.id

    def _table(
        self,
        prefix: str,
        key: str,
        hash_key: str,
        indexes: dict[str, tuple[str, str | None]],
        stream_view: str | None,
    ) -> aws.dynamodb.Table:
        attributes = {hash_key}
        for index_hash, index_range in indexes.values():
            attributes.add(index_hash)
            if index_range:
                attributes.add(index_range)
        return aws.dynamodb.Table(
            f"{self._name}-{key}",
            name=f"{prefix}-{key}",
            billing_mode="PAY_PER_REQUEST",
            hash_key=hash_key,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=a, type="S") for a in sorted(attributes)
            ],
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=index_name,
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name=attribute,
                            key_type=key_type,
                        )
                        for attribute, key_type in ((index_hash, "HASH"), (index_range, "RANGE"))
                        if attribute
                    ],
                    projection_type="ALL",
                )
                for index_name, (index_hash, index_range) in indexes.items()
            ],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            stream_enabled=stream_view is not None,
            stream_view_type=stream_view,
            opts=self._child,
        )
