"""Events as AWS delivers them to the dispatcher, and ECS look-ups for the tests."""

from __future__ import annotations

from renderlib.jobs.records import Job

SCHEDULE_EVENT = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-29T09:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/babulus-render-dispatcher-sweep"],
    "detail": {},
}


def stream_record(job: Job, event_name: str = "INSERT", old_status: str | None = None) -> dict:
    image = {
        "id": {"S": job.id},
        "kind": {"S": job.kind},
        "status": {"S": "queued"},
        "orgId": {"S": job.org_id},
        "retryCount": {"N": str(job.retry_count)},
    }
    dynamodb = {
        "Keys": {"id": {"S": job.id}},
        "NewImage": image,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old_status is not None:
        dynamodb["OldImage"] = {**image, "status": {"S": old_status}}
    return {
        "eventID": "1",
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
    }


def stream_event(*records: dict) -> dict:
    return {"Records": list(records)}


def stopped_event(task: dict, *, stop_code: str, exit_code: int | None, reason: str = "") -> dict:
    """An ECS Task State Change event for ``task`` (as DescribeTasks shows it) once stopped."""
    containers = [
        {**c, "lastStatus": "STOPPED", "exitCode": exit_code} if exit_code is not None else c
        for c in task["containers"]
    ]
    return {
        "version": "0",
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "region": "us-east-1",
        "resources": [task["taskArn"]],
        "detail": {
            "clusterArn": task["clusterArn"],
            "taskArn": task["taskArn"],
            "group": task.get("group"),
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "stopCode": stop_code,
            "stoppedReason": reason or "Essential container in task exited",
            "containers": containers,
            "overrides": task["overrides"],
            "startedBy": task.get("startedBy"),
        },
    }


def tasks_of(ecs, cluster: str) -> list[dict]:
    """Every task of the cluster (any status), described with its tags."""
    arns = []
    for status in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(cluster=cluster, desiredStatus=status)["taskArns"]
    tasks = []
    for start in range(0, len(arns), 100):
        batch = arns[start : start + 100]
        tasks += ecs.describe_tasks(cluster=cluster, tasks=batch, include=["TAGS"])["tasks"]
    return tasks


def tags(task: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in task.get("tags", [])}
