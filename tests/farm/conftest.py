"""Fixtures for the farm: ECS on a moto server started here on 127.0.0.1 (dummy
credentials, us-east-1) with a Fargate task definition, and the local jobs API."""

from __future__ import annotations

import itertools
import json
import urllib.request

import boto3
import pytest

from renderlib.farm.launcher import EcsLauncher
from renderlib.farm.settings import DispatchSettings, EcsSettings
from tests.conftest import REGION

FAMILY = "babulus-render-worker"
CONTAINER = "worker"
_clusters = itertools.count()


@pytest.fixture(scope="session")
def moto_endpoint(moto_endpoint):
    # moto advances a task's status on every DescribeTasks by default; keep tasks RUNNING
    # until they are stopped, as Fargate does.
    request = urllib.request.Request(
        f"{moto_endpoint}/moto-api/state-manager/set-transition",
        data=json.dumps(
            {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**9}}
        ).encode(),
        method="POST",
    )
    urllib.request.urlopen(request).close()
    return moto_endpoint


@pytest.fixture(scope="session")
def network(moto_endpoint):
    ec2 = boto3.client(
        "ec2",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # moto names a task's network interface only in a VPC with DNS hostnames (as infra's has).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="worker", Description="worker", VpcId=vpc)
    return subnet, group["GroupId"]


@pytest.fixture
def ecs(aws_env):
    return boto3.client("ecs", region_name=REGION)


@pytest.fixture
def ecs_settings(ecs, network):
    """A fresh cluster per test (task counts start at 0) and the worker task definition."""
    cluster = f"farm-test-{next(_clusters)}"
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=FAMILY,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="2048",
        containerDefinitions=[
            {"name": CONTAINER, "image": "worker:latest", "essential": True, "memory": 2048}
        ],
    )
    subnet, group = network
    return EcsSettings(
        cluster=cluster,
        task_definition=FAMILY,
        task_family=FAMILY,
        subnets=(subnet,),
        security_groups=(group,),
        container_name=CONTAINER,
    )


@pytest.fixture
def launcher(ecs, ecs_settings):
    return EcsLauncher(ecs, ecs_settings)


@pytest.fixture
def settings(ecs_settings):
    return DispatchSettings(max_concurrent_tasks=10, metrics_cluster=ecs_settings.cluster)


@pytest.fixture
def org1(studio):
    """Org org-1's studio: it creates the jobs the farm then dispatches."""
    return studio("org-1")
