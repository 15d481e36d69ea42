"""Provider registration: the metadata Airflow reads, and what the ``airflow`` CLI makes of it."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from packaging.version import Version

import airflow_provider_kling
from airflow_provider_kling.get_provider_info import DEFAULT_BASE_URL, get_provider_info

DISTRIBUTION = "airflow-provider-kling"
ENTRY_POINT_GROUP = "apache_airflow_provider"
AIRFLOW_VERSION = Version(importlib.metadata.version("apache-airflow"))


def airflow_schema(name: str = "provider_info.schema.json") -> dict[str, Any]:
    """A schema shipped inside the installed Airflow, found without importing Airflow."""
    spec = importlib.util.find_spec("airflow")
    assert spec is not None and spec.submodule_search_locations, "apache-airflow is not installed"
    for location in spec.submodule_search_locations:
        schema_file = Path(location) / name
        if schema_file.is_file():
            schema: dict[str, Any] = json.loads(schema_file.read_text())
            return schema
    raise AssertionError(f"airflow/{name} not found in the installed Airflow")


def kling_connection_type() -> dict[str, Any]:
    (connection_type,) = [
        entry for entry in get_provider_info()["connection-types"] if entry["connection-type"] == "kling"
    ]
    return connection_type


def test_provider_info_validates_against_installed_airflow_schema() -> None:
    schema = airflow_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(get_provider_info()), key=str)
    assert not errors, "\n".join(error.message for error in errors)


def test_schema_check_rejects_provider_info_without_a_name() -> None:
    # Proves the schema test above can fail: Airflow's schema requires name and description.
    broken = get_provider_info()
    del broken["name"]
    with pytest.raises(jsonschema.ValidationError, match="'name' is a required property"):
        jsonschema.validate(broken, airflow_schema())


def test_package_name_is_the_installed_distribution_name() -> None:
    distribution = importlib.metadata.distribution(DISTRIBUTION)
    assert get_provider_info()["package-name"] == distribution.metadata["Name"] == DISTRIBUTION


def test_declared_version_is_the_installed_version() -> None:
    installed = importlib.metadata.version(DISTRIBUTION)
    assert get_provider_info()["versions"][0] == installed == airflow_provider_kling.__version__


def test_airflow_entry_point_resolves_to_get_provider_info() -> None:
    (entry_point,) = [
        ep
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name == DISTRIBUTION
    ]
    assert entry_point.load() is get_provider_info


def test_every_declared_python_module_exists() -> None:
    info = get_provider_info()
    modules = [
        module
        for section in ("hooks", "operators", "sensors", "triggers")
        for entry in info.get(section, [])
        for module in entry["python-modules"]
    ]
    assert modules, "the provider declares no modules"
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    assert not missing, f"declared but not importable: {missing}"


def test_task_kling_image_and_kling_video_are_declared_and_import_to_decorator_factories() -> None:
    decorators = get_provider_info()["task-decorators"]
    assert [decorator["name"] for decorator in decorators] == ["kling_image", "kling_video", "kling_audio"]
    for decorator in decorators:
        module_name, _, attribute = decorator["class-name"].rpartition(".")
        factory = getattr(importlib.import_module(module_name), attribute)
        assert callable(factory)


def test_kling_connection_type_names_the_hook() -> None:
    connection_type = kling_connection_type()
    assert connection_type["hook-class-name"] == "airflow_provider_kling.hooks.kling.KlingHook"
    assert connection_type["hook-name"] == "Kling"


def test_kling_connection_form_declares_timeouts_retries_and_proxy_as_extras() -> None:
    conn_fields = kling_connection_type()["conn-fields"]
    assert {name: field["schema"]["type"] for name, field in conn_fields.items()} == {
        "region": ["string", "null"],
        "connect_timeout": ["number", "null"],
        "read_timeout": ["number", "null"],
        "max_retries": ["integer", "null"],
        "proxy": ["string", "null"],
        "callback_base_url": ["string", "null"],
        "webhook_secret": ["string", "null"],
    }
    assert conn_fields["webhook_secret"]["schema"]["format"] == "password"
    assert "do not cross regions (UNCONFIRMED)" in conn_fields["region"]["description"]
    assert all(field["label"] for field in conn_fields.values())


def test_kling_connection_form_relabels_host_login_and_password_and_hides_the_rest() -> None:
    behaviour = kling_connection_type()["ui-field-behaviour"]
    assert sorted(behaviour["hidden-fields"]) == ["port", "schema"]
    assert behaviour["relabeling"]["host"] == "Base URL"
    assert "Access key" in behaviour["relabeling"]["login"]
    assert "API key" in behaviour["relabeling"]["password"]
    assert "secret key" in behaviour["relabeling"]["password"]
    assert behaviour["placeholders"]["host"] == DEFAULT_BASE_URL == "https://www.kkiai.com/kling"


# --- what Airflow itself makes of it (subprocess: a fresh AIRFLOW_HOME, no shared state) ----------

# One interpreter reads the connection form, then runs the `airflow` CLI's own entry point
# (airflow.__main__.main) for each command: Airflow starts once for the four checks below, not four times.
# Each command's stdout is its --output json; a command that fails is recorded with its error.
_AIRFLOW_SAYS = """
import contextlib, io, json, sys, traceback, types
# First the form, as the UI reads it. Airflow < 3.2 reads it from the hook, through ProvidersManager,
# which needs wtforms importable. A plain install has no wtforms: the UI (HookMetaService) puts
# stand-ins in sys.modules first, and so does this check; ProvidersManager uses nothing of wtforms but
# these four names. (Read after the CLI commands instead, the form would be missing: ProvidersManager
# reads it once, there without the stand-ins.)
sys.modules["wtforms"] = types.SimpleNamespace(
    BooleanField=type("BooleanField", (), {}), IntegerField=type("IntegerField", (), {}),
    PasswordField=type("PasswordField", (), {}), StringField=type("StringField", (), {}),
)
from airflow.providers_manager import ProvidersManager
answers = {"form": {"rows": ProvidersManager().field_behaviours.get("kling")}}
del sys.modules["wtforms"]
from airflow.__main__ import main
for command in sys.argv[1:]:
    sys.argv = ["airflow", *command.split(), "--output", "json"]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            main()
        answers[command] = {"rows": json.loads(out.getvalue())}
    except BaseException:
        answers[command] = {"error": out.getvalue() + traceback.format_exc()}
print(json.dumps(answers))
"""
_COMMANDS = ("providers list", "providers hooks", "providers widgets")


@pytest.fixture(scope="module")
def airflow_says(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = dict(os.environ)
    env["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow-home"))
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["PYTHONWARNINGS"] = "ignore"
    result = subprocess.run(
        [sys.executable, "-c", _AIRFLOW_SAYS, *_COMMANDS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    answers: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answers


def airflow_cli_json(answers: dict[str, Any], command: str) -> Any:
    answer = answers[command]
    assert "error" not in answer, f"airflow {command} failed:\n{answer['error']}"
    return answer["rows"]


def test_airflow_providers_list_shows_the_provider(airflow_says: dict[str, Any]) -> None:
    rows = airflow_cli_json(airflow_says, "providers list")
    kling = [row for row in rows if row["package_name"] == DISTRIBUTION]
    assert kling, f"{DISTRIBUTION} not in: {[row['package_name'] for row in rows]}"
    assert kling[0]["version"] == importlib.metadata.version(DISTRIBUTION)


def test_airflow_providers_hooks_shows_kling_connection_type(airflow_says: dict[str, Any]) -> None:
    rows = airflow_cli_json(airflow_says, "providers hooks")
    kling = [row for row in rows if row["connection_type"] == "kling"]
    assert kling, f"connection type kling not in: {[row['connection_type'] for row in rows]}"
    assert kling[0]["class"] == "airflow_provider_kling.hooks.kling.KlingHook"
    assert kling[0]["package_name"] == DISTRIBUTION
    assert kling[0]["hook_name"] == "Kling"


@pytest.mark.skipif(
    AIRFLOW_VERSION < Version("3.2"),
    reason="Airflow reads conn-fields from provider info from 3.2 on; before, extras are edited as JSON",
)
def test_airflow_providers_widgets_shows_kling_conn_fields_as_extras(airflow_says: dict[str, Any]) -> None:
    rows = airflow_cli_json(airflow_says, "providers widgets")
    kling_fields = {row["connection_parameter_name"] for row in rows if row["package_name"] == DISTRIBUTION}
    assert kling_fields == {
        "extra__kling__region",
        "extra__kling__connect_timeout",
        "extra__kling__read_timeout",
        "extra__kling__max_retries",
        "extra__kling__proxy",
        "extra__kling__callback_base_url",
        "extra__kling__webhook_secret",
    }


def test_airflow_shows_the_kling_form_relabelled_on_every_supported_line(
    airflow_says: dict[str, Any],
) -> None:
    behaviour = airflow_cli_json(airflow_says, "form")
    assert behaviour is not None, f"Airflow {AIRFLOW_VERSION} read no form for kling"
    assert behaviour["relabeling"]["host"] == "Base URL"
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}


def test_hook_form_for_airflow_before_3_2_passes_airflows_schema_and_matches_provider_info() -> None:
    from airflow_provider_kling.hooks.kling import KlingHook

    behaviour = KlingHook.get_ui_field_behaviour()
    jsonschema.validate(behaviour, airflow_schema("customized_form_field_behaviours.schema.json"))
    declared = kling_connection_type()["ui-field-behaviour"]
    assert behaviour == {key.replace("-", "_"): value for key, value in declared.items()}


# --- the hook agrees with what the metadata declares (imports airflow.sdk) -----------------------


def test_hook_class_matches_the_declared_connection_type() -> None:
    from airflow_provider_kling.hooks.kling import KlingHook

    connection_type = kling_connection_type()
    assert f"{KlingHook.__module__}.{KlingHook.__qualname__}" == connection_type["hook-class-name"]
    assert KlingHook.conn_type == connection_type["connection-type"]
    assert KlingHook.hook_name == connection_type["hook-name"]
    assert KlingHook.default_conn_name == "kling_default"


def test_connection_form_defaults_are_the_hook_defaults() -> None:
    from airflow_provider_kling.hooks.kling import KlingConnectionSettings

    settings = KlingConnectionSettings()
    conn_fields = kling_connection_type()["conn-fields"]
    assert conn_fields["connect_timeout"]["schema"]["default"] == settings.connect_timeout
    assert conn_fields["read_timeout"]["schema"]["default"] == settings.read_timeout
    assert conn_fields["max_retries"]["schema"]["default"] == settings.max_retries
    assert settings.base_url == DEFAULT_BASE_URL


def test_every_extra_link_and_decorator_named_in_provider_info_imports() -> None:
    info = get_provider_info()
    paths = [*info["extra-links"], *(decorator["class-name"] for decorator in info["task-decorators"])]
    for path in paths:
        module, _, name = path.rpartition(".")
        assert hasattr(importlib.import_module(module), name), path
