"""Pulumi program: the render farm for the selected stack (`pulumi up -s dev|prod`)."""

import pulumi

from infra.commands import list_tasks_command, push_image_commands
from infra.farm import RenderFarm
from infra.settings import load_settings

settings = load_settings()
farm = RenderFarm("babulus-render", settings)

pulumi.export("repositoryUrl", farm.registry.repository_url)
pulumi.export("image", farm.image)
pulumi.export("clusterName", farm.cluster.cluster_name)
pulumi.export("taskFamily", farm.cluster.task_family)
pulumi.export("bucketName", farm.storage.bucket_name)
pulumi.export("jobsApiEndpoint", farm.jobs_api.endpoint)
pulumi.export("jobStreamArn", farm.jobs_api.job_stream_arn)
pulumi.export("dispatcherFunctionName", farm.dispatcher.function_name)
pulumi.export("dashboardName", farm.monitoring.dashboard_name)
pulumi.export("alarmTopicArn", farm.monitoring.topic_arn)
if farm.worker_secret_arn is not None:
    pulumi.export("workerCredentialsSecretArn", farm.worker_secret_arn)
pulumi.export("pushImageCommands", push_image_commands(settings, farm.registry.repository_url))
pulumi.export("listTasksCommand", list_tasks_command(settings, farm.cluster.cluster_name))
if farm.jobs_api.studio_api_key_secret_arn is not None:
    pulumi.export("studioApiKeySecretArn", farm.jobs_api.studio_api_key_secret_arn)
    pulumi.export("userPoolId", farm.jobs_api.user_pool_id)
    pulumi.export("userPoolClientId", farm.jobs_api.user_pool_client_id)
