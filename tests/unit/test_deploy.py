"""deploy/: the Kubernetes manifests against the Flink Kubernetes Operator's CRD schema, and the
container recipe and Trino catalog against the one place each version or setting comes from.

The schema check is what the Kubernetes API server does with strict field validation (kubectl's
default): every field must be declared by the CRD (a misspelt field is an error, not silently
dropped), every value must have the declared type and be one of the declared enum values.
Nothing here builds an image or talks to a cluster (deploy/README.md says what is not tested).
"""

from __future__ import annotations

import copy
import re
from dataclasses import fields
from pathlib import Path

import jsonschema
import pytest
import yaml

from lakehouse import config

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CRD = DEPLOY / "k8s" / "crd" / "flinkdeployments.flink.apache.org-v1.yml"


# --- the CRD's schema as JSON Schema ------------------------------------------------------------
def _strict(node):
    """The CRD's openAPIV3Schema as a JSON Schema the API server's strict validation matches:
    objects accept only declared properties (unless x-kubernetes-preserve-unknown-fields), and
    x-kubernetes-int-or-string accepts either type."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items() if not key.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("type") == "object" and "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    crd = yaml.load(CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # 0.6 MB of YAML
    assert crd["spec"]["names"]["kind"] == "FlinkDeployment"
    served = {version["name"]: version for version in crd["spec"]["versions"] if version["served"]}
    schema = _strict(served["v1beta1"]["schema"]["openAPIV3Schema"])
    # apiVersion, kind and metadata are checked by the API server itself, not by the CRD.
    schema["properties"] |= {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {}}
    return jsonschema.Draft4Validator(schema)


def _errors(validator, document) -> list[str]:
    return sorted(
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)
    )


def _manifest(name: str) -> dict:
    return yaml.safe_load((DEPLOY / "k8s" / name).read_text())


def _merge(base: dict, patch: dict) -> dict:
    """A JSON merge patch (RFC 7386), as `kubectl patch --type merge` applies it."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _stack_env() -> dict[str, str]:
    """infra/stack.env's defaults (``: "${NAME:=value}"``), the one place versions are pinned."""
    text = (REPO / "infra" / "stack.env").read_text()
    return dict(re.findall(r'^: "\$\{(\w+):=([^}]*)\}"', text, flags=re.M))


# --- the FlinkDeployment --------------------------------------------------------------------------
def test_flink_deployment_matches_the_operator_schema(validator):
    deployment = _manifest("flinkdeployment.yaml")
    assert deployment["apiVersion"] == "flink.apache.org/v1beta1" and deployment["kind"] == "FlinkDeployment"
    assert _errors(validator, deployment) == []


def test_the_bug_fix_restore_patch_gives_a_valid_deployment(validator):
    deployment = _manifest("flinkdeployment.yaml")
    patched = _merge(deployment, _manifest("restore-from-savepoint.yaml"))
    assert _errors(validator, patched) == []
    job = patched["spec"]["job"]
    assert job["initialSavepointPath"].startswith(
        deployment["spec"]["flinkConfiguration"]["execution.checkpointing.savepoint-dir"]
    )
    assert job["savepointRedeployNonce"] != deployment["spec"]["job"].get("savepointRedeployNonce")
    assert job["upgradeMode"] == "savepoint"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("spec", "job", "upgradeMode"), "savepoints", "is not one of"),
        (("spec", "flinkVersion"), "v2_99", "is not one of"),
        (("spec", "job", "parallelism"), "two", "is not of type 'integer'"),
        (("spec", "job", "upgradeModee"), "savepoint", "Additional properties are not allowed"),
        (("spec", "taskManager", "resource", "memroy"), "2g", "Additional properties are not allowed"),
    ],
)
def test_the_schema_check_rejects_what_the_api_server_rejects(validator, path, value, expected):
    deployment = _manifest("flinkdeployment.yaml")
    node = deployment
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    errors = _errors(validator, deployment)
    assert len(errors) == 1 and expected in errors[0], errors


def test_the_deployment_runs_the_pinned_flink_in_application_mode_with_savepoint_upgrades():
    spec = _manifest("flinkdeployment.yaml")["spec"]
    major, minor = _stack_env()["FLINK_VERSION"].split(".")[:2]
    assert spec["flinkVersion"] == f"v{major}_{minor}"
    job = spec["job"]
    assert job["upgradeMode"] == "savepoint" and job["state"] == "running"
    assert job["entryClass"] == "org.apache.flink.client.python.PythonDriver"
    flink = spec["flinkConfiguration"]
    for key in ("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir", "high-availability.storageDir"):
        assert flink[key].startswith("s3://"), key
    assert not any("key" in name and "s3" in name for name in flink), "S3 keys come from the Secret"


def test_the_job_arguments_name_files_the_image_holds():
    args = _manifest("flinkdeployment.yaml")["spec"]["job"]["args"]
    options = dict(zip(args[::2], args[1::2], strict=True))
    app = "/opt/lakehouse/app/"
    assert options["-py"].startswith(app) and (REPO / options["-py"][len(app) :]).is_file()
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "COPY --from=python /usr/local /opt/lakehouse/python" in dockerfile
    assert options["-pyexec"] == options["-pyclientexec"] == "/opt/lakehouse/python/bin/python3"
    jars = _manifest("configmap.yaml")["data"]["LAKEHOUSE_JOB_JARS"]
    assert f'LAKEHOUSE_JOB_JARS="{jars}"' in dockerfile


def test_secrets_come_from_the_secret_and_settings_from_real_fields():
    deployment = _manifest("flinkdeployment.yaml")
    (container,) = deployment["spec"]["podTemplate"]["spec"]["containers"]
    refs = {item["name"]: item["valueFrom"]["secretKeyRef"] for item in container["env"]}
    assert set(refs) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_WRITER_ACCESS_KEY", "S3_WRITER_SECRET_KEY"}
    keys = {(ref["name"], ref["key"]) for ref in refs.values()}
    readme = (DEPLOY / "README.md").read_text()
    for name, key in keys:  # the command in deploy/README.md creates exactly these
        assert f"kubectl create secret generic {name}" in readme and f"--from-literal={key}=" in readme
    settings_env = {f"LAKEHOUSE_{f.name.upper()}" for f in fields(config.Settings)}
    data = _manifest("configmap.yaml")["data"]
    assert set(data) - settings_env <= {"LAKEHOUSE_CACHE_DIR", "LAKEHOUSE_HOME"}, set(data) - settings_env
    assert int(data["LAKEHOUSE_PARALLELISM"]) == deployment["spec"]["job"]["parallelism"]
    assert data["LAKEHOUSE_PROFILE"] in config.PROFILES


# --- the image recipe: one source for every version -------------------------------------------
def test_the_dockerfile_takes_every_version_from_build_arguments():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    code = "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    args = set(re.findall(r"^ARG (\w+)$", code, flags=re.M))
    assert args == {"FLINK_VERSION", "PYTHON_VERSION"}
    assert not re.search(r"^ARG \w+=", code, flags=re.M), "no ARG default: a version comes from deploy/build.sh"
    assert not re.search(r"\d+\.\d+\.\d+", code), "a version literal in the Dockerfile"
    build = (DEPLOY / "build.sh").read_text()
    passed = set(re.findall(r"^\s+\[(\w+)\]=", build, flags=re.M))
    assert passed == args
    assert "[FLINK_VERSION]=$FLINK_VERSION" in build and '. "$repo/infra/stack.env"' in build
    assert "infra/flink/flink.sh artifacts" in build, "the jars are the stack's own files"


# --- the Trino catalog ----------------------------------------------------------------------------
def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_the_trino_catalog_sets_what_the_local_stacks_catalog_sets():
    script = (REPO / "infra" / "trino" / "trino.sh").read_text()
    heredoc = script.split("write_catalog() {", 1)[1].split("EOF\n", 2)[1]
    local = _properties(heredoc)
    deployed = _properties((DEPLOY / "trino" / "delta.properties").read_text())
    assert set(deployed) == set(local)
    for key in ("connector.name", "hive.metastore", "s3.path-style-access", "delta.register-table-procedure.enabled"):
        assert deployed[key] == local[key], key
    secrets = {key: value for key, value in deployed.items() if "key" in key}
    assert secrets and all(value.startswith("${ENV:") for value in secrets.values()), secrets


def test_the_image_and_the_release_archive_hold_the_same_app_tree():
    from lakehouse.pipeline import release

    build = (DEPLOY / "build.sh").read_text()
    listed = re.search(r"git ls-files -z -- ([\w ]+) \|", build).group(1).split()
    assert sorted(listed) == sorted(release.APP_DIRS + release.APP_DATA)


def test_the_deployments_taskmanagers_use_the_local_stacks_garbage_collector():
    configuration = _manifest("flinkdeployment.yaml")["spec"]["flinkConfiguration"]
    assert configuration["env.java.opts.taskmanager"] == _stack_env()["FLINK_TM_JAVA_OPTS"] == "-XX:+UseParallelGC"
