"""The API's record types as stored: table layout, indexes, field kinds.

This layout is a contract with infra/jobs_api.py (the DynamoDB tables): every table
has the hash key ``id`` (S); Job has the GSI ``byStatus`` (status, createdAt), JobEvent
``byJob`` (jobId, createdAt), RenderRun ``byJob`` (jobId), RenderChunk ``byJob`` (jobId,
createdAt) and ``byStatus`` (status, createdAt). Table names come from the
environment variables named in ``table_env``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    table_env: str
    required: frozenset[str]
    optional: frozenset[str]
    indexes: dict[str, Index] = field(default_factory=dict)
    json_fields: frozenset[str] = frozenset()

    @property
    def fields(self) -> frozenset[str]:
        return self.required | self.optional | {"id", "createdAt", "updatedAt"}


JOB = Entity(
    name="Job",
    table_env="JOB_TABLE",
    required=frozenset({"orgId", "kind", "status", "inputJson", "retryCount", "maxRetries"}),
    optional=frozenset(
        {
            "claimedByAgentId",
            "executionMode",
            "failureReason",
            "taskArn",
            "heartbeatAt",
            "progress",
            "startedAt",
            "finishedAt",
            "chunkCount",
            "chunksLanded",
        }
    ),
    indexes={"byStatus": Index("byStatus", "status", "createdAt")},
    json_fields=frozenset({"inputJson"}),
)

JOB_EVENT = Entity(
    name="JobEvent",
    table_env="JOB_EVENT_TABLE",
    required=frozenset({"jobId", "type"}),
    optional=frozenset({"orgId", "message", "progress", "data"}),
    indexes={"byJob": Index("byJob", "jobId", "createdAt")},
    json_fields=frozenset({"data"}),
)

RENDER_RUN = Entity(
    name="RenderRun",
    table_env="RENDER_RUN_TABLE",
    required=frozenset({"orgId", "videoId", "jobId", "status"}),
    optional=frozenset(
        {
            "generationRunId",
            "mp4ArtifactKey",
            "posterArtifactKey",
            "duration",
            "frames",
            "width",
            "height",
            "fps",
            "renderSeconds",
            "taskSeconds",
            "estimatedCostUsd",
        }
    ),
    indexes={"byJob": Index("byJob", "jobId")},
)

GENERATION_RUN = Entity(
    name="GenerationRun",
    table_env="GENERATION_RUN_TABLE",
    required=frozenset({"orgId", "videoId", "scriptArtifactKey", "timelineArtifactKey"}),
    optional=frozenset({"artifactPrefix", "audioArtifactKeys"}),
)

# One frame range of a chunked render job, run by its own task attempts (docs/farm.md).
RENDER_CHUNK = Entity(
    name="RenderChunk",
    table_env="RENDER_CHUNK_TABLE",
    required=frozenset(
        {"jobId", "orgId", "index", "startFrame", "endFrame", "status", "retryCount", "maxRetries"}
    ),
    optional=frozenset(
        {
            "claimedByAgentId",
            "failureReason",
            "taskArn",
            "heartbeatAt",
            "framesDone",
            "startedAt",
            "finishedAt",
        }
    ),
    indexes={
        "byJob": Index("byJob", "jobId", "createdAt"),
        "byStatus": Index("byStatus", "status", "createdAt"),
    },
)

ENTITIES = {
    entity.name: entity for entity in (JOB, JOB_EVENT, RENDER_RUN, GENERATION_RUN, RENDER_CHUNK)
}
