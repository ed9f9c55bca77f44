"""RenderFarm: the whole cloud render farm for one stack, wired from its parts."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.cluster import Cluster, ClusterArgs
from infra.dispatcher import Dispatcher, DispatcherArgs
from infra.jobs_api import JobsApi, JobsApiArgs
from infra.lambda_package import LambdaPackage, LambdaPackageArgs
from infra.monitoring import Monitoring, MonitoringArgs
from infra.names import FarmNames
from infra.network import Network, NetworkArgs
from infra.registry import Registry, RegistryArgs
from infra.roles import FarmRoles, FarmRolesArgs
from infra.secrets import WorkerSecrets, WorkerSecretsArgs
from infra.settings import Settings
from infra.storage import Storage, StorageArgs


class RenderFarm(pulumi.ComponentResource):
    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None):
        super().__init__("babulus:render:RenderFarm", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output()
        account_id = caller.account_id
        # The IAM principal behind the deploy (an assumed role's role, not its session): the
        # provider reads back what it writes to secrets, on create, refresh and destroy.
        deployer_arn = aws.iam.get_session_context_output(arn=caller.arn).issuer_arn
        names = FarmNames(settings, account_id)
        prefix = settings.name_prefix

        self.network = Network(
            "network",
            NetworkArgs(
                name_prefix=prefix,
                region=settings.region,
                account_id=account_id,
                log_retention_days=settings.log_retention_days,
            ),
            child,
        )
        self.registry = Registry(
            "registry",
            RegistryArgs(
                repository_name=settings.repository_name,
            ),
            child,
        )
        self.storage = Storage(
            "storage",
            StorageArgs(
                name_prefix=prefix,
                bucket_name=settings.bucket_name,
            ),
            child,
        )
        # Only a studio API that knows the farm by user pool needs a password (cognito attach).
        api_settings = settings.jobs_api
        worker_secret_arn: pulumi.Output[str] | None = None
        if api_settings.auth == "cognito":
            worker_secret_arn = WorkerSecrets(
                "secrets",
                WorkerSecretsArgs(
                    name_prefix=prefix,
                    reader_role_arns=[
                        names.role_arn(names.execution_role),
                        names.role_arn(names.dispatcher_role),
                    ],
                    deployer_arn=deployer_arn,
                    email=api_settings.worker_email,
                    password=api_settings.worker_password,
                ),
                child,
            ).secret_arn
        self.worker_secret_arn = worker_secret_arn
        self.lambda_package = LambdaPackage("lambda", LambdaPackageArgs(name_prefix=prefix), child)
        self.jobs_api = JobsApi(
            "jobs",
            JobsApiArgs(
                settings=settings,
                account_id=account_id,
                code=self.lambda_package.code,
                layer_arn=self.lambda_package.layer_arn,
                farm_role_arns=[
                    names.role_arn(names.task_role),
                    names.role_arn(names.dispatcher_role),
                ],
                bucket_name=self.storage.bucket_name,
                bucket_arn=self.storage.bucket_arn,
            ),
            child,
        )
        self.roles = FarmRoles(
            "roles",
            FarmRolesArgs(
                names=names,
                repository_arn=self.registry.repository_arn,
                bucket_arn=self.storage.bucket_arn,
                worker_secret_arn=worker_secret_arn,
                job_stream_arn=self.jobs_api.job_stream_arn,
                jobs_api_arn=self.jobs_api.api_arn,
                jobs_api_key_secret_arn=self.jobs_api.api_key_secret_arn,
            ),
            child,
        )
        self.image = pulumi.Output.concat(self.registry.repository_url, ":", settings.image_tag)
        self.cluster = Cluster(
            "cluster",
            ClusterArgs(
                settings=settings,
                container_name=names.container_name,
                log_group_name=names.worker_log_group,
                image=self.image,
                execution_role_arn=self.roles.execution_role_arn,
                task_role_arn=self.roles.task_role_arn,
                bucket_name=self.storage.bucket_name,
                jobs_api_url=self.jobs_api.endpoint,
                jobs_api_auth=self.jobs_api.farm_auth,
                worker_secret_arn=worker_secret_arn,
                cognito_client_id=api_settings.cognito_client_id,
                jobs_api_key_secret_arn=self.jobs_api.api_key_secret_arn,
            ),
            child,
        )
        self.dispatcher = Dispatcher(
            "dispatcher",
            DispatcherArgs(
                names=names,
                code=self.lambda_package.code,
                layer_arn=self.lambda_package.layer_arn,
                role_arn=self.roles.dispatcher_role_arn,
                cluster_name=self.cluster.cluster_name,
                cluster_arn=self.cluster.cluster_arn,
                subnet_ids=self.network.private_subnet_ids,
                security_group_id=self.network.security_group_id,
                bucket_name=self.storage.bucket_name,
                jobs_api_url=self.jobs_api.endpoint,
                jobs_api_auth=self.jobs_api.farm_auth,
                worker_secret_arn=worker_secret_arn,
                cognito_client_id=api_settings.cognito_client_id,
                job_stream_arn=self.jobs_api.job_stream_arn,
                jobs_api_key_secret_arn=self.jobs_api.api_key_secret_arn,
            ),
            child,
        )
        self.monitoring = Monitoring(
            "monitoring",
            MonitoringArgs(
                names=names,
                cluster_name=self.cluster.cluster_name,
                cluster_arn=self.cluster.cluster_arn,
                dispatcher_function_name=self.dispatcher.function_name,
            ),
            child,
        )

        self.register_outputs(
            {
                "repositoryUrl": self.registry.repository_url,
                "clusterName": self.cluster.cluster_name,
                "bucketName": self.storage.bucket_name,
                "jobsApiEndpoint": self.jobs_api.endpoint,
                "dashboardName": self.monitoring.dashboard_name,
            }
        )
