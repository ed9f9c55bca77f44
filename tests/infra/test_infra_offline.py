"""The offline harness itself: config loading, recording, outputs, repeated runs."""

import json

import pulumi
import pulumi_aws as aws
import pytest

from infra.offline import OfflineConfigError, is_secret, load_stack_config, run_stack


def tiny_program() -> None:
    cfg = pulumi.Config()
    parent = pulumi.ComponentResource("test:index:Box", "box")
    bucket = aws.s3.Bucket(
        "b",
        bucket=f"{cfg.require('namePrefix')}-bucket",
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True),
    )
    password = pulumi.Output.secret("pw")
    aws.secretsmanager.SecretVersion(
        "sv",
        secret_id="s",
        secret_string=password.apply(lambda p: json.dumps({"password": p})),
    )
    pulumi.export("bucketName", bucket.bucket)
    pulumi.export("secret", pulumi.Output.secret("hidden"))


def test_records_inputs_options_parents_and_outputs():
    run = run_stack("dev", program=tiny_program)
    bucket = run.one("aws:s3/bucket:Bucket")
    prefix = run.config["babulus-render:namePrefix"]
    assert bucket.inputs["bucket"] == f"{prefix}-bucket"
    assert bucket.options["retainOnDelete"] is True
    assert bucket.parent == run.one("test:index:Box").urn
    assert run.outputs["bucketName"] == f"{prefix}-bucket"
    assert run.secret_outputs == {"secret"}
    # A value derived from a secret output reaches the mock still wrapped as a secret.
    version = run.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert is_secret(version.inputs["secretString"])


def test_runs_twice_in_one_process_with_each_stacks_config():
    dev = run_stack("dev", program=tiny_program)
    prod = run_stack("prod", program=tiny_program)
    assert dev.outputs["bucketName"] != prod.outputs["bucketName"]
    assert len(dev.resources) == len(prod.resources) == 3


def test_overrides_replace_and_remove_keys():
    run = run_stack("dev", program=tiny_program, config_overrides={"namePrefix": "other"})
    assert run.outputs["bucketName"] == "other-bucket"
    with pytest.raises(pulumi.ConfigMissingError):
        run_stack("dev", program=tiny_program, config_overrides={"namePrefix": None})


def test_config_values_arrive_as_strings_like_the_cli_passes_them():
    project, config = load_stack_config("prod")
    assert project == "babulus-render"
    assert all(isinstance(v, str) for v in config.values())
    assert config["babulus-render:maxConcurrentTasks"] == "10"


def test_unknown_stack_is_a_clear_error():
    with pytest.raises(OfflineConfigError, match="Pulumi.nope.yaml"):
        run_stack("nope", program=tiny_program)


def test_a_failed_run_leaves_nothing_behind_for_the_next():
    def failing() -> None:
        aws.s3.Bucket("half-made")
        raise RuntimeError("program broke")

    with pytest.raises(RuntimeError, match="program broke"):
        run_stack("dev", program=failing)
    run = run_stack("dev", program=tiny_program)
    assert "half-made" not in {r.name for r in run.resources}
    assert len(run.resources) == 3
