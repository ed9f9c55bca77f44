"""The whole program, run offline once per committed stack config: every resource the
issue asks for is asserted from the inputs the mock engine recorded."""

import json

import pytest

from infra.offline import is_secret, run_stack

STACKS = ("dev", "prod")


@pytest.fixture(scope="module")
def runs():
    return {stack: run_stack(stack) for stack in STACKS}


@pytest.fixture(params=STACKS)
def run(request, runs):
    return runs[request.param]


def statements(resource) -> list[dict]:
    key = "policy" if "policy" in resource.inputs else "assumeRolePolicy"
    return json.loads(resource.inputs[key])["Statement"]


def role_policy(run, role_name: str) -> list[dict]:
    role = next(r for r in run.of_type("aws:iam/role:Role") if r.inputs["name"] == role_name)
    policies = [
        p
        for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == f"{role_name}-id"
    ]
    assert len(policies) == 1, role_name
    return role, statements(policies[0])


def actions(statement) -> list[str]:
    found = statement["Action"]
    return [found] if isinstance(found, str) else found


def container(run) -> dict:
    task = run.one("aws:ecs/taskDefinition:TaskDefinition")
    (definition,) = json.loads(task.inputs["containerDefinitions"])
    return definition


def plain_strings(value, path=""):
    """Every string in an input tree outside secret-wrapped values."""
    if is_secret(value):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from plain_strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from plain_strings(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


# --- Network -----------------------------------------------------------------------------


def test_vpc_two_azs_one_nat_private_subnets(run):
    vpc = run.one("awsx:ec2:Vpc")
    assert vpc.inputs["numberOfAvailabilityZones"] == 2
    assert vpc.inputs["natGateways"] == {"strategy": "Single"}
    assert {s["type"] for s in vpc.inputs["subnetSpecs"]} == {"Public", "Private"}
    dispatcher = run.one("aws:lambda/function:Function", "dispatcher-function")
    assert (
        dispatcher.inputs["environment"]["variables"]["SUBNETS"]
        == "subnet-0private-a,subnet-0private-b"
    )


def test_security_group_is_outbound_only(run):
    group = run.one("aws:ec2/securityGroup:SecurityGroup")
    assert not group.inputs.get("ingress")
    assert [(e["fromPort"], e["toPort"]) for e in group.inputs["egress"]] == [(443, 443)]
    assert not run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")


def test_flow_logs_go_to_a_log_group_through_a_flow_logs_only_role(run):
    flow = run.one("aws:ec2/flowLog:FlowLog")
    group = next(
        g
        for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")
        if g.inputs["name"].endswith("/flow-logs")
    )
    assert flow.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["vpcId"] == "vpc-0mock"
    assert flow.inputs["logDestination"].endswith(f"log-group:{group.inputs['name']}")
    role = next(
        r for r in run.of_type("aws:iam/role:Role") if r.inputs["name"].endswith("-flow-logs")
    )
    assert flow.inputs["iamRoleArn"].endswith(f"role/{role.inputs['name']}")
    (trust,) = statements(role)
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}


def test_s3_gateway_endpoint_on_the_private_route_tables(run):
    endpoint = run.one("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    assert endpoint.inputs["serviceName"] == f"com.amazonaws.{run.config['aws:region']}.s3"
    # The mocks answer the route-table lookup with one table per subnet it filtered on.
    assert endpoint.inputs["routeTableIds"] == [
        "rtb-of-subnet-0private-a",
        "rtb-of-subnet-0private-b",
    ]


# --- Registry and storage ----------------------------------------------------------------


def test_ecr_repository_retained_scanned_and_bounded(run):
    repo = run.one("aws:ecr/repository:Repository")
    assert repo.options["retainOnDelete"] is True
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs.get("forceDelete") is False
    policy = run.one("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert policy.inputs["repository"] == repo.inputs["name"]
    (rule,) = json.loads(policy.inputs["policy"])["rules"]
    assert rule["selection"]["tagStatus"] == "untagged"
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["action"] == {"type": "expire"}


def test_bucket_private_encrypted_tls_only(run):
    bucket = run.one("aws:s3/bucket:Bucket")
    bucket_id = f"{bucket.name}-mock-id"
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert block.inputs["bucket"] == bucket_id
    assert all(
        block.inputs[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    sse = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    assert sse.inputs["bucket"] == bucket_id
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    (deny,) = statements(run.one("aws:s3/bucketPolicy:BucketPolicy"))
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket_arn = f"arn:aws:s3:::{bucket.name}-mock"
    assert deny["Resource"] == [bucket_arn, f"{bucket_arn}/*"]


# --- Secrets ------------------------------------------------------------------------------


def test_the_farm_signs_with_iam_and_holds_no_password(run):
    # Create mode: the farm's roles sign their jobs API calls, so no credential exists that
    # nothing would read (no generated password, no Cognito worker user, no secret).
    assert not run.of_type("random:index/randomPassword:RandomPassword")
    assert not run.of_type("aws:cognito/user:User")
    secrets = {s.inputs["name"] for s in run.of_type("aws:secretsmanager/secret:Secret")}
    assert secrets == {f"{run.config['babulus-render:namePrefix']}/studio-api-key"}
    assert container(run)["secrets"] == []
    prefix = run.config["babulus-render:namePrefix"]
    for role_name in (f"{prefix}-task-execution", f"{prefix}-task", f"{prefix}-dispatcher"):
        _, other = role_policy(run, role_name)
        assert not any(a.startswith("secretsmanager:") for s in other for a in actions(s))


def test_no_secret_value_in_any_plain_input_or_output(run):
    # The studio API key is no output at all, only the secret that holds it.
    assert "jobsApiKey" not in run.outputs
    assert run.outputs["studioApiKeySecretArn"].startswith("arn:aws:secretsmanager:")
    key = run.one("aws:appsync/apiKey:ApiKey")
    value = f"mock-api-key-{key.name}"
    for resource in run.resources:
        for path, text in plain_strings(resource.inputs):
            assert value not in text, f"{resource.type} {resource.name}{path}"
    for name, output in run.outputs.items():
        assert value not in json.dumps(output), name


# --- Cluster and task definition -------------------------------------------------------------


def test_cluster_has_container_insights(run):
    cluster = run.one("aws:ecs/cluster:Cluster")
    assert cluster.inputs["name"] == run.config["babulus-render:clusterName"]
    assert {"name": "containerInsights", "value": "enabled"} in cluster.inputs["settings"]


def test_task_definition_from_stack_config(run):
    task = run.one("aws:ecs/taskDefinition:TaskDefinition")
    config = run.config
    # The family the dispatcher launches, its role allows and the STOPPED rule matches.
    assert task.inputs["family"] == run.outputs["taskFamily"]
    assert task.inputs["cpu"] == config["babulus-render:taskCpu"]
    assert task.inputs["memory"] == config["babulus-render:taskMemory"]
    assert task.inputs["ephemeralStorage"]["sizeInGib"] == int(
        config["babulus-render:taskEphemeralStorageGiB"]
    )
    assert (
        task.inputs["runtimePlatform"]["cpuArchitecture"]
        == config["babulus-render:taskArchitecture"]
    )
    assert task.inputs["requiresCompatibilities"] == ["FARGATE"]
    assert task.inputs["networkMode"] == "awsvpc"
    worker = container(run)
    assert worker["stopTimeout"] == int(config["babulus-render:taskStopTimeoutSeconds"])
    assert worker["linuxParameters"] == {"initProcessEnabled": True}
    assert worker["image"] == f"{run.outputs['repositoryUrl']}:{config['babulus-render:imageTag']}"


def test_worker_environment_contract(run):
    env = {e["name"]: e["value"] for e in container(run)["environment"]}
    assert env == {
        "JOBS_API_URL": run.outputs["jobsApiEndpoint"],
        "JOBS_API_AUTH": "iam",
        "RENDER_BUCKET": run.outputs["bucketName"],
        "JOB_TIME_LIMIT_SECONDS": run.config["babulus-render:jobTimeLimitSeconds"],
        "CHUNK_AFTER_SECONDS": "600",
        "CHUNK_SECONDS": "300",
        "LOG_LEVEL": run.config["babulus-render:logLevel"],
        "TASK_CPU": run.config["babulus-render:taskCpu"],
        "TASK_MEMORY": run.config["babulus-render:taskMemory"],
        "TASK_EPHEMERAL_STORAGE_GIB": run.config["babulus-render:taskEphemeralStorageGiB"],
        # Unset in the committed stacks: us-east-1 on-demand Linux/x86.
        "FARGATE_VCPU_HOUR_USD": "0.04048",
        "FARGATE_GB_HOUR_USD": "0.004445",
        "FARGATE_STORAGE_GB_HOUR_USD": "0.000111",
    }


def test_worker_logs_kept_one_week(run):
    group_name = container(run)["logConfiguration"]["options"]["awslogs-group"]
    groups = {g.inputs["name"]: g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert groups[group_name].inputs["retentionInDays"] == 7
    assert all(g.inputs["retentionInDays"] == 7 for g in groups.values())
    assert len(groups) == 5  # flow logs, worker, dispatcher, resolver, task failures


# --- Roles ---------------------------------------------------------------------------------


def test_task_role_reads_inputs_writes_renders_never_deletes(run):
    prefix = run.config["babulus-render:namePrefix"]
    role, task_statements = role_policy(run, f"{prefix}-task")
    (trust,) = statements(role)
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    bucket_arn = f"arn:aws:s3:::{run.outputs['bucketName']}"
    by_action = {a: s["Resource"] for s in task_statements for a in actions(s)}
    assert by_action["s3:GetObject"] == [f"{bucket_arn}/generations/*"]
    assert by_action["s3:PutObject"] == [f"{bucket_arn}/renders/*"]
    assert by_action["s3:AbortMultipartUpload"] == [f"{bucket_arn}/renders/*"]
    assert set(by_action) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "appsync:GraphQL",
    }


def test_no_role_may_delete_objects_or_use_wildcard_resources(run):
    """Only the dispatcher deletes, and only chunk segments (of succeeded chunked jobs)."""
    bucket = "arn:aws:s3:::" + run.outputs["bucketName"]
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in statements(policy):
            if statement.get("Sid") == "DeleteChunkSegments":
                assert policy.name.endswith("dispatcher"), policy.name
                assert actions(statement) == ["s3:DeleteObject"]
                assert statement["Resource"] == [f"{bucket}/renders/*/chunks/*"]
                continue
            assert not any("Delete" in a for a in actions(statement)), policy.name
            if statement["Resource"] == ["*"]:
                # The two actions AWS authorizes only on "*"; ListTasks is held to one
                # cluster by its ecs:cluster condition.
                assert actions(statement) in (
                    ["ecr:GetAuthorizationToken"],
                    ["ecs:ListTasks"],
                    ["dynamodb:ListStreams"],
                )
                if actions(statement) == ["ecs:ListTasks"]:
                    assert statement["Condition"]["ArnEquals"]["ecs:cluster"].endswith(
                        f":cluster/{run.config['babulus-render:clusterName']}"
                    )


def test_dispatcher_role_scoped_to_cluster_family_and_two_roles(run):
    prefix = run.config["babulus-render:namePrefix"]
    cluster = run.config["babulus-render:clusterName"]
    family = run.outputs["taskFamily"]
    cluster_arn = f"arn:aws:ecs:us-east-1:123456789012:cluster/{cluster}"
    role, dispatcher = role_policy(run, f"{prefix}-dispatcher")
    (trust,) = statements(role)
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    by_sid = {s["Sid"]: s for s in dispatcher}
    run_task = by_sid["RunWorkerTasks"]
    assert actions(run_task) == ["ecs:RunTask"]
    assert run_task["Resource"] == [
        f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:*"
    ]
    assert run_task["Condition"] == {"ArnEquals": {"ecs:cluster": cluster_arn}}
    for sid in ("DescribeClusterTasks", "ListClusterTasks"):
        assert by_sid[sid]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster_arn}}
    # A cluster-wide ListTasks names no container instance: AWS authorizes it on "*".
    assert by_sid["ListClusterTasks"]["Resource"] == ["*"]
    assert by_sid["TagTasksAtLaunch"]["Condition"] == {
        "StringEquals": {"ecs:CreateAction": "RunTask"}
    }
    passed = by_sid["PassOnlyTheTaskRoles"]
    assert sorted(passed["Resource"]) == sorted(
        [
            f"arn:aws:iam::123456789012:role/{prefix}-task",
            f"arn:aws:iam::123456789012:role/{prefix}-task-execution",
        ]
    )
    all_actions = {a for s in dispatcher for a in actions(s)}
    assert {
        "ecs:RunTask",
        "ecs:DescribeTasks",
        "ecs:ListTasks",
        "ecs:TagResource",
        "iam:PassRole",
        "appsync:GraphQL",
    } <= all_actions
    assert by_sid["ReadTheJobStream"]["Resource"] == [run.outputs["jobStreamArn"]]


def test_task_definition_uses_the_two_roles(run):
    task = run.one("aws:ecs/taskDefinition:TaskDefinition")
    prefix = run.config["babulus-render:namePrefix"]
    assert task.inputs["executionRoleArn"].endswith(f"role/{prefix}-task-execution")
    assert task.inputs["taskRoleArn"].endswith(f"role/{prefix}-task")


# --- Dispatcher ------------------------------------------------------------------------------


def test_dispatcher_lambda_and_environment_contract(run):
    function = run.one("aws:lambda/function:Function", "dispatcher-function")
    assert function.inputs["handler"] == "handlers.trigger.handler"
    assert function.inputs["runtime"].startswith("python3")
    assert function.inputs["timeout"] == 30
    # Reserving concurrency fails on new accounts (quota 10): the committed stacks reserve none.
    assert "reservedConcurrentExecutions" not in function.inputs
    env = function.inputs["environment"]["variables"]
    group = run.one("aws:ec2/securityGroup:SecurityGroup")
    worker_env = {e["name"]: e["value"] for e in container(run)["environment"]}
    assert env == {
        "ECS_CLUSTER": run.outputs["clusterName"],
        "TASK_DEFINITION": run.outputs["taskFamily"],
        "TASK_FAMILY": run.outputs["taskFamily"],
        "SUBNETS": "subnet-0private-a,subnet-0private-b",
        "SECURITY_GROUPS": f"{group.inputs['name']}-id",
        "CONTAINER_NAME": container(run)["name"],
        "MAX_CONCURRENT_TASKS": run.config["babulus-render:maxConcurrentTasks"],
        "JOBS_API_URL": run.outputs["jobsApiEndpoint"],
        "JOBS_API_AUTH": "iam",
        "RENDER_BUCKET": run.outputs["bucketName"],
        "HEARTBEAT_LEASE_SECONDS": run.config["babulus-render:heartbeatLeaseSeconds"],
        # The workers' chunk policy, so the dispatcher splits jobs as they would.
        "CHUNK_AFTER_SECONDS": worker_env["CHUNK_AFTER_SECONDS"],
        "CHUNK_SECONDS": worker_env["CHUNK_SECONDS"],
    }
    # The code is handlers/ and renderlib/, the PyPI deps a layer.
    assert sorted(function.inputs["code"].assets) == ["handlers", "renderlib"]
    layer = run.one("aws:lambda/layerVersion:LayerVersion")
    assert function.inputs["layers"] == [
        f"arn:aws:lambda:us-east-1:123456789012:layer:{layer.inputs['layerName']}:1"
    ]


def test_dispatcher_triggers_stream_schedule_and_stopped_tasks(run):
    function_arn = (
        f"arn:aws:lambda:us-east-1:123456789012:function:{run.outputs['dispatcherFunctionName']}"
    )
    mapping = run.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["eventSourceArn"] == run.outputs["jobStreamArn"]
    assert mapping.inputs["functionName"] == function_arn
    assert mapping.inputs["filterCriteria"]["filters"]  # what they let through: below
    rules = {r.name: r for r in run.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert (
        rules["dispatcher-sweep"].inputs["scheduleExpression"]
        == run.config["babulus-render:scheduleRate"]
    )
    stopped = json.loads(rules["dispatcher-task-stopped"].inputs["eventPattern"])
    assert stopped["detail-type"] == ["ECS Task State Change"]
    assert stopped["detail"]["lastStatus"] == ["STOPPED"]
    assert stopped["detail"]["clusterArn"] == [
        f"arn:aws:ecs:us-east-1:123456789012:cluster/{run.outputs['clusterName']}"
    ]
    targets = {
        t.inputs["rule"]: t.inputs["arn"]
        for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")
    }
    for rule in ("dispatcher-sweep", "dispatcher-task-stopped"):
        assert targets[rules[rule].inputs["name"]] == function_arn
    permissions = run.of_type("aws:lambda/permission:Permission")
    assert sorted(p.inputs["sourceArn"] for p in permissions) == sorted(
        f"arn:aws:events:us-east-1:123456789012:rule/{rules[r].inputs['name']}"
        for r in ("dispatcher-sweep", "dispatcher-task-stopped")
    )


# --- Monitoring ------------------------------------------------------------------------------


def test_alarms_notify_the_topic(run):
    topic_arn = run.outputs["alarmTopicArn"]
    alarms = {
        a.name.removeprefix("monitoring-"): a
        for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == {
        "dispatcher-error-rate",
        "dispatcher-long-execution",
        "no-completed-renders",
        "worker-tasks-failed",
        "jobs-waiting-too-long",
    }
    for alarm in alarms.values():
        assert alarm.inputs["alarmActions"] == [topic_arn]
    assert alarms["jobs-waiting-too-long"].inputs["threshold"] == int(
        run.config["babulus-render:queueAgeAlarmSeconds"]
    )
    function = {"FunctionName": run.outputs["dispatcherFunctionName"]}
    assert alarms["dispatcher-long-execution"].inputs["dimensions"] == function
    failed_rule = run.one("aws:cloudwatch/eventRule:EventRule", "monitoring-task-failed")
    assert alarms["worker-tasks-failed"].inputs["dimensions"] == {
        "RuleName": failed_rule.inputs["name"]
    }
    window = int(run.config["babulus-render:noCompletionsWindowMinutes"]) * 60
    periods = [
        q["metric"]["period"]
        for q in alarms["no-completed-renders"].inputs["metricQueries"]
        if "metric" in q
    ]
    assert periods == [window, window]


def test_alarm_topic_key_lets_cloudwatch_publish(run):
    topic = run.one("aws:sns/topic:Topic")
    key = run.one("aws:kms/key:Key")
    # CloudWatch cannot use the AWS-managed alias/aws/sns key: the topic has its own.
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    by_sid = {s["Sid"]: s for s in statements(key)}
    cloudwatch = by_sid["CloudWatchAlarmsPublishToTheTopic"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # Without an account statement the key could never be changed or deleted again.
    assert by_sid["TheAccountAdministersTheKey"]["Principal"] == {
        "AWS": "arn:aws:iam::123456789012:root"
    }
    publish = next(
        s
        for s in statements(run.one("aws:sns/topicPolicy:TopicPolicy"))
        if s["Action"] == "sns:Publish"
    )
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Resource"] == run.outputs["alarmTopicArn"]


def test_dashboard_shows_the_dispatcher_tasks_and_queue(run):
    dashboard = run.one("aws:cloudwatch/dashboard:Dashboard")
    prefix = run.config["babulus-render:namePrefix"]
    assert dashboard.inputs["dashboardName"] == f"{prefix}-farm"
    body = json.loads(dashboard.inputs["dashboardBody"])
    metrics = [m for w in body["widgets"] for m in w["properties"]["metrics"]]
    names = {(m[0], m[1]) for m in metrics}
    for metric in [
        ("AWS/Lambda", "Invocations"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "Throttles"),
        ("ECS/ContainerInsights", "RunningTaskCount"),
        ("AWS/Events", "TriggeredRules"),
        ("BabulusRender", "OldestQueuedJobAgeSeconds"),
    ]:
        assert metric in names
    assert [
        "AWS/Lambda",
        "Errors",
        "FunctionName",
        run.outputs["dispatcherFunctionName"],
    ] in metrics


# --- Outputs and dev vs prod ---------------------------------------------------------------------


def test_outputs_give_the_exact_commands_for_the_stack(run):
    url = run.outputs["repositoryUrl"]
    tag = run.config["babulus-render:imageTag"]
    lines = run.outputs["pushImageCommands"].splitlines()
    assert lines[0] == (
        f"aws ecr get-login-password --region us-east-1 | docker login "
        f"--username AWS --password-stdin {url.split('/')[0]}"
    )
    assert lines[1].startswith("docker build --platform linux/amd64 -t ")
    assert lines[2].endswith(f" {url}:{tag}") and lines[2].startswith("docker tag ")
    assert lines[3] == f"docker push {url}:{tag}"
    assert run.outputs["listTasksCommand"] == (
        f"aws ecs list-tasks --region us-east-1 --cluster {run.outputs['clusterName']} "
        f"--family {run.outputs['taskFamily']}"
    )


def test_dev_and_prod_differ_where_their_configs_do(runs):
    dev, prod = runs["dev"], runs["prod"]
    assert prod.outputs["clusterName"] == "babulus-render-cluster"
    assert prod.outputs["repositoryUrl"].endswith("/babulus-render-worker")
    assert dev.outputs["clusterName"] == "babulus-render-dev-cluster"
    assert dev.outputs["repositoryUrl"].endswith("/babulus-render-dev-worker")
    prod_task = prod.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    dev_task = dev.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    assert (prod_task["cpu"], prod_task["memory"]) == ("4096", "16384")
    assert (dev_task["cpu"], dev_task["memory"]) != ("4096", "16384")

    def env(run):
        fn = run.one("aws:lambda/function:Function", "dispatcher-function")
        return fn.inputs["environment"]["variables"]

    assert env(prod)["MAX_CONCURRENT_TASKS"] == "10"
    assert env(dev)["MAX_CONCURRENT_TASKS"] == "2"
    assert len(prod.of_type("aws:sns/topicSubscription:TopicSubscription")) == 1
    assert not dev.of_type("aws:sns/topicSubscription:TopicSubscription")

    # No two account-wide names collide, so both stacks fit in one account (an AppSync data
    # source's name is scoped to its own API).
    def physical(run):
        return {
            (r.type, r.inputs["name"])
            for r in run.resources
            if r.inputs.get("name") and r.type != "aws:appsync/dataSource:DataSource"
        }

    assert len(physical(dev)) > 30
    assert not physical(dev) & physical(prod)


def test_every_child_is_parented_under_the_farm(run):
    farm = run.one("babulus:render:RenderFarm")
    assert farm.parent.endswith("::pulumi:pulumi:Stack::babulus-render-" + run.stack)
    urns = {r.urn for r in run.resources}
    for resource in run.resources:
        if resource is not farm:
            assert resource.parent in urns, resource.name


def job_image(status: str, kind: str = "render", **numbers: int) -> dict:
    image = {"id": {"S": "job-1"}, "status": {"S": status}, "kind": {"S": kind}}
    return image | {name: {"N": str(value)} for name, value in numbers.items()}


def record(event_name: str, new: dict | None, old: dict | None = None) -> dict:
    images = {"Keys": {"id": {"S": "job-1"}}, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    images |= {"NewImage": new} if new else {}
    images |= {"OldImage": old} if old else {}
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": images}


STREAM_RECORDS = {
    # name: (record, whether the Lambda must see it)
    "new job": (record("INSERT", job_image("queued")), True),
    "requeued by its worker": (
        record("MODIFY", job_image("queued"), job_image("running")),
        True,
    ),
    "put back from claimed": (  # seen, then left to the sweep by the dispatcher
        record("MODIFY", job_image("queued"), job_image("claimed")),
        True,
    ),
    "just split": (
        record("MODIFY", job_image("running", chunkCount=4), job_image("running")),
        True,
    ),
    "heartbeat": (record("MODIFY", job_image("running"), job_image("running")), False),
    "split job's progress": (
        record("MODIFY", job_image("running", chunkCount=4), job_image("running", chunkCount=4)),
        False,
    ),
    "claimed": (record("MODIFY", job_image("claimed"), job_image("queued")), False),
    "succeeded": (record("MODIFY", job_image("succeeded"), job_image("running")), False),
    "split job succeeded": (
        record("MODIFY", job_image("succeeded", chunkCount=4), job_image("running", chunkCount=4)),
        True,
    ),
    "split job changed after success": (
        record(
            "MODIFY", job_image("succeeded", chunkCount=4), job_image("succeeded", chunkCount=4)
        ),
        False,
    ),
    "other kind": (record("INSERT", job_image("queued", kind="thumbnail")), False),
    "removed": (record("REMOVE", None, job_image("succeeded")), False),
}


def test_the_stream_filters_let_through_every_record_the_dispatcher_acts_on_and_no_heartbeat(run):
    """Lambda drops the records no filter matches before the dispatcher sees them:
    evaluated with moto's implementation of the filter grammar (the one EventBridge
    and Lambda event filtering share), on the records the dispatcher's own parsers read."""
    from moto.events.models import EventPattern, EventPatternParser

    from renderlib.farm.dispatcher import (
        stream_job_ids,
        stream_split_job_ids,
        stream_succeeded_split_job_ids,
    )

    mapping = run.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    filters = [
        EventPattern(f["pattern"], EventPatternParser(f["pattern"]).parse())
        for f in mapping.inputs["filterCriteria"]["filters"]
    ]
    for name, (stream_record, expected) in STREAM_RECORDS.items():
        passes = any(f.matches_event(stream_record) for f in filters)
        acts = any(
            parse([stream_record])
            for parse in (stream_job_ids, stream_split_job_ids, stream_succeeded_split_job_ids)
        )
        assert passes == expected, name
        assert passes or not acts, f"the dispatcher acts on {name!r}, which never reaches it"
