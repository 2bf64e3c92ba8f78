"""infra/ is checked without Docker, a cluster or the network: every file parses, every command is
one the image really has (the `provoice` typer app, Prefect's CLI), every setting is a real
ProVoice or Prefect setting, and the files agree with each other and with deployments/."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from fnmatch import fnmatch
from importlib.metadata import distribution, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
COMPOSE_FILE = INFRA / "docker-compose.yml"
K8S = INFRA / "k8s"
GPU_TEMPLATE = ROOT / "deployments" / "work_pools" / "gpu-kubernetes.json"
PREFECT_YAML = ROOT / "deployments" / "prefect.yaml"
# The images built here, by the Dockerfile that builds each.
IMAGES = {"provoice": "infra/Dockerfile", "provoice-cuda": "infra/Dockerfile.cuda"}
# Settings of prefect-kubernetes (not installed here), from prefect_kubernetes/settings.py.
PREFECT_KUBERNETES_SETTINGS = {"PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES"}
NAMESPACE = "provoice"


# ---------------------------------------------------------------- helpers: commands


def check_provoice(args: list[str]) -> None:
    """Resolve `provoice ARGS` in the typer app and parse its options, without running it."""
    import typer.core

    from interfaces.cli import app

    cmd = typer.main.get_command(app)
    path = ["provoice"]
    while isinstance(cmd, typer.core.TyperGroup):
        assert args, f"`{' '.join(path)}` needs a subcommand"
        name, args = args[0], args[1:]
        assert name in cmd.commands, f"`{' '.join(path)}` has no subcommand {name!r}"
        cmd, path = cmd.commands[name], [*path, name]
    try:
        cmd.make_context(" ".join(path), list(args))
    except Exception as exc:  # typer's vendored click: UsageError, NoSuchOption, BadParameter
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        raise AssertionError(f"`{' '.join(path)} {' '.join(args)}`: {message}") from exc


def check_prefect(args: list[str]) -> None:
    """Resolve `prefect ARGS` in Prefect's CLI, options included, without running it. `_app` is the
    cyclopts app behind the `prefect` script; Prefect is pinned to 3.8, where it lives there."""
    from prefect.cli._app import _app

    rest = list(args)
    while rest and rest[0] in ("--no-prompt", "--prompt", "--profile"):
        rest = rest[2:] if rest[0] == "--profile" else rest[1:]
    try:
        _app.parse_args(rest, exit_on_error=False, print_error=False)
    except Exception as exc:
        raise AssertionError(f"`prefect {' '.join(args)}`: {exc}") from exc


def simple_commands(argv: list[str]) -> list[list[str]]:
    """The commands of `sh -c "a && b; c"` one by one, redirections dropped; else argv itself."""
    if argv[:2] not in (["sh", "-c"], ["/bin/sh", "-c"]):
        return [argv]
    out = []
    for part in re.split(r"&&|\|\||;|\n", argv[2]):
        words = shlex.split(part)
        while ">" in words:
            i = words.index(">")
            del words[i : i + 2]
        if words:
            out.append(words)
    return out


def check_command(argv: list[str]) -> None:
    for words in simple_commands(argv):
        program, args = words[0], words[1:]
        if program == "provoice":
            check_provoice(args)
        elif program == "prefect":
            check_prefect(args)
        else:
            raise AssertionError(f"{program!r} is neither `provoice` nor `prefect` (in {argv})")


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


# ---------------------------------------------------------------- helpers: files


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def interpolate(value: str) -> str:
    """Compose's interpolation with every variable unset: `${X:-d}` → d, `${X}` → "", `$$` → `$`."""
    value = re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)
    return value.replace("$$", "$")


def compose_variables() -> set[str]:
    return set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))


def image_name(image: str) -> str:
    return image.rsplit("/", 1)[-1].split(":")[0]


def is_ours(image: str) -> bool:
    return image_name(image) in IMAGES


def is_prefect(image: str) -> bool:
    return image.startswith("prefecthq/prefect:")


def k8s_docs() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def k8s_containers() -> list[tuple[dict, dict]]:
    """(workload, container) for every Deployment and Job."""
    return [
        (d, c)
        for d in k8s_docs()
        if d["kind"] in ("Deployment", "Job")
        for c in d["spec"]["template"]["spec"]["containers"]
    ]


def k8s_object(kind: str, name: str) -> dict:
    found = [d for d in k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r} in infra/k8s, found {len(found)}"
    return found[0]


def dockerfile(path: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / path).read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def dockerfile_args(path: str) -> dict[str, str]:
    return dict(a.split("=", 1) for i, a in dockerfile(path) if i == "ARG" and "=" in a)


def dockerfile_env(path: str) -> dict[str, str]:
    out = {}
    for instruction, rest in dockerfile(path):
        if instruction == "ENV":
            out.update(dict(word.split("=", 1) for word in shlex.split(rest)))
    return out


def template() -> dict:
    return json.loads(GPU_TEMPLATE.read_text())


def rendered_job(values: dict[str, Any]) -> dict:
    """The job configuration Prefect's worker code builds from the template and job variables."""
    from prefect.workers.base import BaseJobConfiguration

    class KubernetesShape(BaseJobConfiguration):
        """The fields of prefect-kubernetes' KubernetesWorkerJobConfiguration that the template fills."""

        namespace: str = "default"
        job_manifest: dict[str, Any]
        job_watch_timeout_seconds: int | None = None
        pod_watch_timeout_seconds: int = 60
        stream_output: bool = True

    run = {
        "name": "fine-tune-run",
        "labels": {"prefect.io/flow-run-id": "1"},
        "command": "prefect flow-run execute",
        **values,
    }
    config = asyncio.run(KubernetesShape.from_template_and_values(template(), run, client=object()))
    return config.model_dump()


# ---------------------------------------------------------------- docker compose


def test_compose_has_the_stack_with_the_gpu_worker_behind_a_profile():
    services = compose()["services"]
    assert {"postgres", "prefect-server", "minio", "minio-setup", "setup", "api", "worker-cpu", "worker-gpu"} <= set(
        services
    )
    with_profiles = {name: s["profiles"] for name, s in services.items() if "profiles" in s}
    assert with_profiles == {"worker-gpu": ["gpu"]}


def test_compose_builds_our_images_from_existing_dockerfiles_and_pins_the_others():
    for name, service in compose()["services"].items():
        image = service["image"]
        if is_ours(image):
            build = service["build"]
            assert build["dockerfile"] == IMAGES[image_name(image)], name
            assert (COMPOSE_FILE.parent / build["context"]).resolve() == ROOT, name
            assert (ROOT / build["dockerfile"]).is_file(), name
        else:
            assert "build" not in service, name
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image!r} to a version"


def test_compose_commands_are_real_entrypoints():
    checked = 0
    for service in compose()["services"].values():
        if is_ours(service["image"]) or is_prefect(service["image"]):
            check_command(service["command"])
            checked += 1
    assert checked == 5


def test_compose_dependencies_wait_for_health_or_completion():
    services = compose()["services"]
    for name, service in services.items():
        for dep, how in service.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"
            if how["condition"] == "service_completed_successfully":
                assert services[dep].get("restart") == "no", f"{dep} is a one-shot: restart must be 'no'"


def test_compose_services_reach_each_other_by_service_name():
    services = compose()["services"]
    env = {k: interpolate(v) for k, v in compose()["x-provoice-env"].items()}
    for name in ("setup", "api", "worker-cpu", "worker-gpu"):
        assert services[name]["environment"] == compose()["x-provoice-env"], name
    prefect = urlsplit(env["PREFECT_API_URL"])
    server = services["prefect-server"]["command"]
    assert (prefect.hostname, str(prefect.port), prefect.path) == ("prefect-server", option(server, "--port"), "/api")
    assert urlsplit(env["PROVOICE_S3_ENDPOINT_URL"]).hostname == "minio"
    assert urlsplit(env["PROVOICE_DATABASE_URL"]).hostname == "postgres"
    assert env["PROVOICE_DATABASE_URL"].startswith("postgresql+psycopg://")
    server_db = interpolate(services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"])
    assert server_db.startswith("postgresql+asyncpg://") and urlsplit(server_db).hostname == "postgres"
    assert env["AWS_ACCESS_KEY_ID"] == interpolate(services["minio"]["environment"]["MINIO_ROOT_USER"])
    assert env["AWS_SECRET_ACCESS_KEY"] == interpolate(services["minio"]["environment"]["MINIO_ROOT_PASSWORD"])


def test_compose_catalog_database_is_created_by_the_postgres_init_script():
    postgres = compose()["services"]["postgres"]
    env = {k: interpolate(v) for k, v in compose()["x-provoice-env"].items()}
    catalog_db = urlsplit(env["PROVOICE_DATABASE_URL"]).path.lstrip("/")
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in postgres["volumes"] if v.startswith("./"))
    scripts = [
        (COMPOSE_FILE.parent / src).read_text()
        for src, dest in mounts.items()
        if dest.startswith("/docker-entrypoint-initdb.d/")
    ]
    assert any(f"CREATE DATABASE {catalog_db};" in s for s in scripts)
    assert postgres["environment"]["POSTGRES_DB"] == "prefect"


def test_compose_gpu_worker_reserves_an_nvidia_gpu_and_serves_the_gpu_pool():
    worker = compose()["services"]["worker-gpu"]
    assert image_name(worker["image"]) == "provoice-cuda"
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"] and device["count"] >= 1
    assert option(worker["command"], "--pool") == "gpu"


def test_compose_workers_serve_every_pool_and_match_the_pool_types_setup_creates():
    services = compose()["services"]
    pools = {d["work_pool"]["name"] for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"]}
    workers = {
        option(s["command"], "--pool"): option(s["command"], "--type")
        for s in services.values()
        if s.get("command", [])[:3] == ["prefect", "worker", "start"]
    }
    assert set(workers) == pools == {"cpu", "gpu"}
    setup = next(c for c in simple_commands(services["setup"]["command"]) if c[:3] == ["provoice", "ops", "setup"])
    assert workers == {"cpu": "process", "gpu": option(setup, "--gpu-pool-type")}


def test_minio_webhook_posts_uploads_to_the_api_bucket_events_route():
    from interfaces.api.bucket_events import ROUTE, router

    services = compose()["services"]
    mc = services["minio-setup"]
    script = mc["entrypoint"][2].replace("$$", "$")
    config = re.search(r"mc admin config set local notify_webhook:(\S+) (.*)", script)
    target, settings = config.group(1), dict(w.split("=", 1) for w in shlex.split(config.group(2)))
    endpoint = urlsplit(settings["endpoint"])
    api = services["api"]["command"]
    assert (endpoint.hostname, str(endpoint.port), endpoint.path) == ("api", option(api, "--port"), ROUTE)
    assert ROUTE in {r.path for r in router.routes}
    assert settings["auth_token"] == "$PROVOICE_BUCKET_EVENTS_SECRET"
    event = shlex.split(re.search(r"mc event add .*", script).group(0))
    assert option(event, "--event") == "put"
    assert option(event, "--prefix") == "$PROVOICE_UPLOAD_PREFIX"
    assert event[-2:] == ["local/$BUCKET", f"arn:minio:sqs::{target}:webhook"]
    env = {k: interpolate(v) for k, v in compose()["x-provoice-env"].items()}
    mc_env = {k: interpolate(v) for k, v in mc["environment"].items()}
    assert mc_env["PROVOICE_BUCKET_EVENTS_SECRET"] == env["PROVOICE_BUCKET_EVENTS_SECRET"]
    assert mc_env["PROVOICE_UPLOAD_PREFIX"] == env["PROVOICE_UPLOAD_PREFIX"]
    assert env["PROVOICE_STORAGE_URI"].startswith(f"s3://{mc_env['BUCKET']}/")


def test_compose_variables_are_all_in_env_example():
    documented = {
        line.split("=", 1)[0]
        for line in (INFRA / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert compose_variables() == documented


# ---------------------------------------------------------------- Dockerfiles


@pytest.mark.parametrize("path", sorted(IMAGES.values()))
def test_dockerfile_copies_existing_sources_that_its_dockerignore_lets_through(path):
    patterns = [p for p in (ROOT / f"{path}.dockerignore").read_text().splitlines() if p and not p.startswith("#")]

    def ignored(rel: str) -> bool:
        verdict = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            if fnmatch(rel, pattern.lstrip("!")):
                verdict = not negate
        return verdict

    copies = [shlex.split(rest) for instruction, rest in dockerfile(path) if instruction == "COPY"]
    sources = [src for words in copies if not words[0].startswith("--from") for src in words[:-1]]
    assert sources
    for src in sources:
        assert (ROOT / src).exists(), f"{path}: COPY source {src} does not exist"
        assert not ignored(src), f"{path}: COPY source {src} is excluded by {path}.dockerignore"
    assert ignored(".venv") and ignored("provoice/__pycache__")


@pytest.mark.parametrize("path", sorted(IMAGES.values()))
def test_dockerfile_cmd_is_a_real_entrypoint_and_there_is_no_entrypoint(path):
    """Kubernetes passes a flow run's command as container args, which replace CMD but would be
    appended to an ENTRYPOINT."""
    instructions = dockerfile(path)
    assert "ENTRYPOINT" not in {i for i, _ in instructions}
    (cmd,) = [json.loads(rest) for i, rest in instructions if i == "CMD"]
    check_command(cmd)
    assert ("WORKDIR", "/app") in instructions


@pytest.mark.parametrize("path", sorted(IMAGES.values()))
def test_dockerfile_matches_the_wheels_and_drivers_the_project_needs(path):
    args = dockerfile_args(path)
    piper_tag = re.search(r"Tag: cp(\d)(\d+)-", distribution("piper-phonemize").read_text("WHEEL"))
    assert args["PYTHON_VERSION"] == f"{piper_tag.group(1)}.{piper_tag.group(2)}", "piper-phonemize's wheels"
    assert args["TORCH_VERSION"] == version("torch").split("+")[0]
    installs = " ".join(rest for i, rest in dockerfile(path) if i == "RUN" and "pip install" in rest)
    assert '"/src[postgres]"' in installs, "PROVOICE_DATABASE_URL=postgresql+psycopg:// needs the postgres extra"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("psycopg[binary]") for d in extras["postgres"])


# ---------------------------------------------------------------- settings everywhere


def env_names_and_values() -> list[tuple[str, str, str]]:
    """(where, NAME, value) for every environment variable infra/ sets."""
    out = []
    data = compose()
    for name, value in data["x-provoice-env"].items():
        out.append(("compose x-provoice-env", name, interpolate(value)))
    for service_name, service in data["services"].items():
        for name, value in (service.get("environment") or {}).items():
            out.append((f"compose {service_name}", name, interpolate(str(value))))
    for line in (INFRA / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            out.append(("infra/.env.example", name, value))
    for path in IMAGES.values():
        out += [(path, name, value) for name, value in dockerfile_env(path).items()]
    for doc in k8s_docs():
        where = f"k8s {doc['kind']} {doc['metadata']['name']}"
        for key in ("data", "stringData"):
            out += [(where, name, value) for name, value in doc.get(key, {}).items()]
    for workload, container in k8s_containers():
        out += [
            (f"k8s {workload['metadata']['name']}", e["name"], e.get("value", "")) for e in container.get("env", [])
        ]
    return out


def test_every_provoice_and_prefect_variable_is_a_real_setting():
    import prefect.settings

    from provoice.settings import Settings

    names = {name for _, name, _ in env_names_and_values()}
    provoice = {n for n in names if n.startswith("PROVOICE_")}
    unknown = {n for n in provoice if n.removeprefix("PROVOICE_").lower() not in Settings.model_fields}
    assert not unknown, f"not fields of provoice.settings.Settings: {sorted(unknown)}"
    prefect_names = {n for n in names if n.startswith("PREFECT_")} - PREFECT_KUBERNETES_SETTINGS
    unknown = {n for n in prefect_names if not hasattr(prefect.settings, n)}
    assert not unknown, f"not Prefect settings: {sorted(unknown)}"
    assert {"PROVOICE_DATABASE_URL", "PROVOICE_STORAGE_URI", "PREFECT_API_URL"} <= names


@pytest.mark.parametrize("where", ["compose x-provoice-env", "k8s ConfigMap provoice-config", "infra/Dockerfile.cuda"])
def test_settings_values_are_valid(where, monkeypatch):
    from provoice.settings import Settings

    values = {
        name: value
        for w, name, value in env_names_and_values()
        if w == where or (where.startswith("k8s") and w == "k8s Secret provoice-secrets")
    }
    assert values
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    if where.startswith("k8s"):
        assert settings.train_deployment == "fine-tune/gpu"
    if where == "infra/Dockerfile.cuda":
        assert settings.device == "cuda"


# ---------------------------------------------------------------- Kubernetes


def test_k8s_manifests_parse_and_live_in_the_provoice_namespace():
    docs = k8s_docs()
    assert docs
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), doc
        assert doc["metadata"].get("name"), doc
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]["name"]
    assert k8s_object("Namespace", NAMESPACE)


#: The oldest Kubernetes release still supported upstream when the manifests were last checked, and the newest
#: schema set kubernetes-validate ships.
K8S_VERSIONS = ("1.32.0", "1.37.0")


@pytest.mark.parametrize("k8s_version", K8S_VERSIONS)
def test_k8s_manifests_are_valid_against_the_kubernetes_schemas(k8s_version):
    """Every object against the official OpenAPI schemas (kubernetes-validate), strictly: an unknown or
    misspelt field fails as well as a wrong type."""
    import kubernetes_validate

    docs = k8s_docs()
    for doc in docs:
        kubernetes_validate.validate(doc, k8s_version, strict=True)
    broken = json.loads(json.dumps(k8s_object("Deployment", "provoice-api")))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, k8s_version, strict=True)
    broken["spec"]["replicas"] = 1
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy "] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, k8s_version, strict=True)


def test_kustomization_lists_every_manifest_and_only_existing_ones():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert all((K8S / r).is_file() for r in resources)
    assert set(resources) == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert kustomization["namespace"] == NAMESPACE
    used = {image_name(c["image"]) for _, c in k8s_containers()}
    assert {i["name"] for i in kustomization["images"]} <= used


def test_k8s_commands_are_real_entrypoints():
    checked = 0
    for _workload, container in k8s_containers():
        if is_ours(container["image"]) or is_prefect(container["image"]):
            check_command(container.get("command", []) + container.get("args", []))
            checked += 1
    assert checked == 5


def test_k8s_references_resolve():
    """Config refs name objects and keys that exist; selectors, services and probes line up."""
    for workload, container in k8s_containers():
        name = workload["metadata"]["name"]
        for source in container.get("envFrom", []):
            kind, ref = (
                ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
            )
            k8s_object(kind, ref["name"])
        for env in container.get("env", []):
            if ref := env.get("valueFrom", {}).get("configMapKeyRef"):
                assert ref["key"] in k8s_object("ConfigMap", ref["name"])["data"], f"{name}: {ref}"
        ports = {p["name"] for p in container.get("ports", [])}
        for probe in ("readinessProbe", "livenessProbe"):
            if probe in container:
                assert container[probe]["httpGet"]["port"] in ports, f"{name}: {probe}"
        if workload["kind"] == "Deployment":
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        if sa := workload["spec"]["template"]["spec"].get("serviceAccountName"):
            k8s_object("ServiceAccount", sa)
    for service in (d for d in k8s_docs() if d["kind"] == "Service"):
        targets = [
            (w, c)
            for w, c in k8s_containers()
            if w["kind"] == "Deployment"
            and service["spec"]["selector"].items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, service["metadata"]["name"]
        ports = {p["name"] for p in targets[0][1]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_k8s_workers_serve_both_pools_and_setup_creates_the_kubernetes_gpu_pool():
    workers = {}
    for _workload, container in k8s_containers():
        argv = container.get("command", []) + container.get("args", [])
        if argv[:3] == ["prefect", "worker", "start"]:
            workers[option(argv, "--pool")] = (option(argv, "--type"), container["image"])
    assert workers["cpu"][0] == "process" and image_name(workers["cpu"][1]) == "provoice"
    assert workers["gpu"][0] == "kubernetes" and workers["gpu"][1].endswith("-kubernetes")
    _, setup = next((w, c) for w, c in k8s_containers() if w["kind"] == "Job")
    ops = next(c for c in simple_commands(setup["args"]) if c[:3] == ["provoice", "ops", "setup"])
    assert option(ops, "--gpu-pool-type") == "kubernetes"


def test_k8s_gpu_worker_may_create_jobs_and_read_pods_logs_and_events():
    deployment = k8s_object("Deployment", "provoice-worker-gpu")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    bindings = [
        b
        for b in k8s_docs()
        if b["kind"] == "RoleBinding"
        and {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE} in b["subjects"]
    ]
    assert bindings
    granted: set[tuple[str, str, str]] = set()
    for binding in bindings:
        role = k8s_object(binding["roleRef"]["kind"], binding["roleRef"]["name"])
        granted |= {
            (group, resource, verb)
            for rule in role["rules"]
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }
    needed = {("batch", "jobs", v) for v in ("create", "get", "list", "watch", "delete")}
    needed |= {("", r, v) for r in ("pods", "pods/log", "events") for v in ("get", "list", "watch")}
    assert needed <= granted, sorted(needed - granted)
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert json.loads(env["PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES"]) == [NAMESPACE]


# ---------------------------------------------------------------- the gpu work pool's template


def test_gpu_template_is_a_base_job_template_prefect_accepts_and_setup_uses():
    from prefect.server.schemas.actions import WorkPoolCreate
    from prefect.utilities.schema_tools import validate
    from prefect.utilities.templating import find_placeholders

    from deployments.setup import GPU_TEMPLATE as SETUP_TEMPLATE
    from deployments.setup import read_template

    t = template()
    assert SETUP_TEMPLATE.resolve() == GPU_TEMPLATE and read_template(GPU_TEMPLATE) == t
    WorkPoolCreate(name="gpu", type="kubernetes", base_job_template=t)
    used = {p.name for p in find_placeholders(json.dumps(t["job_configuration"]))}
    declared = set(t["variables"]["properties"])
    assert used <= declared, f"undeclared: {sorted(used - declared)}"
    defaults = {k: v["default"] for k, v in t["variables"]["properties"].items() if "default" in v}
    validate(
        defaults,
        t["variables"],
        raise_on_error=True,
        preprocess=True,
        ignore_required=True,
        allow_none_with_default=True,
    )


def test_gpu_template_renders_a_job_on_a_gpu_node_with_one_gpu_by_default():
    gpu_count = template()["variables"]["properties"]["gpu_count"]
    assert gpu_count["type"] == "integer" and gpu_count["default"] == 1
    config = rendered_job({})
    job = config["job_manifest"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # What prefect-kubernetes requires of every manifest (_get_base_job_manifest).
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert (pod["parallelism"], pod["completions"], pod["restartPolicy"]) == (1, 1, "Never")
    assert container["name"] == "prefect-job"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert "serviceAccountName" not in pod
    assert container["args"] == "prefect flow-run execute"
    assert config["namespace"] == job["metadata"]["namespace"] == NAMESPACE
    assert container["image"] == compose()["services"]["worker-gpu"]["image"]
    for source in container["envFrom"]:
        kind, ref = (
            ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
        )
        k8s_object(kind, ref["name"])


def test_gpu_count_and_the_gpu_deployments_job_variables_land_in_the_job():
    assert (
        rendered_job({"gpu_count": 2})["job_manifest"]["spec"]["template"]["spec"]["containers"][0]["resources"][
            "limits"
        ]["nvidia.com/gpu"]
        == 2
    )
    (gpu,) = [d for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"] if d["work_pool"]["name"] == "gpu"]
    job_variables = gpu["work_pool"]["job_variables"]
    assert set(job_variables) <= set(template()["variables"]["properties"])
    limits = rendered_job(job_variables)["job_manifest"]["spec"]["template"]["spec"]["containers"][0]["resources"][
        "limits"
    ]
    assert limits["nvidia.com/gpu"] == job_variables["gpu_count"]


def test_the_one_machine_cluster_runs_what_compose_runs(tmp_path):
    """`make cluster` (deployments/local_cluster.py) starts the compose services' own commands, so the
    cluster test exercises the topology infra/ describes."""
    from deployments.local_cluster import SETUP, LocalCluster

    services = compose()["services"]
    assert services["setup"]["command"][-1] == " && ".join(" ".join(["provoice", *args]) for args in SETUP)
    cluster = LocalCluster(tmp_path, 8000)
    for part in ("api", "worker-cpu", "worker-gpu"):
        argv = cluster.argv(part)[2:]  # after `python -m`
        argv = ["provoice" if a == "interfaces.cli" else a for a in argv]
        if "--name" in argv:
            del argv[argv.index("--name") : argv.index("--name") + 2]
        expected = [a.replace("0.0.0.0", "127.0.0.1") for a in services[part]["command"]]
        assert argv == expected, part
