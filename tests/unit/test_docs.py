"""The docs stay true: every public class is on a page, every parameter in its table with the code's
default, every connection extra and error listed, every snippet runs, and names in messages exist.

The tables themselves are generated at build time by ``docs/_ext/kling_tables.py`` (``make docs``);
these tests find the public API by their own introspection and check the generator covers it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import runpy
import sys
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

import airflow_provider_kling
from airflow_provider_kling.testing import KlingSimulator

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
PACKAGE_DIR = Path(airflow_provider_kling.__file__).parent
README = ROOT / "README.md"

sys.path.insert(0, str(DOCS / "_ext"))
import kling_tables as tables  # noqa: E402


def _pages() -> dict[Path, str]:
    return {page: page.read_text(encoding="utf-8") for page in DOCS.rglob("*.rst")}


def _package_modules() -> list[str]:
    """Every module file of the package but the simulator's, by path (not through the generator)."""
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if "testing" in parts or any(part.startswith("_") for part in parts):
            continue
        names.append(".".join(parts))
    return names


def _public_airflow_classes() -> dict[str, type]:
    from airflow.sdk import BaseHook, BaseOperator
    from airflow.triggers.base import BaseTrigger

    found = {}
    for name in _package_modules():
        module = importlib.import_module(name)
        for attr, value in inspect.getmembers(module, inspect.isclass):
            if (
                value.__module__ == name
                and not attr.startswith("_")
                and issubclass(value, BaseOperator | BaseHook | BaseTrigger)
            ):
                found[attr] = value
    return found


PUBLIC = _public_airflow_classes()


def test_introspection_finds_the_operators_sensors_hook_and_triggers() -> None:
    assert {
        "KlingHook",
        "KlingImageGenerationOperator",
        "KlingBatchOperator",
        "KlingTaskSensor",
        "KlingTaskTrigger",
    } <= set(PUBLIC)
    assert set(PUBLIC) == {cls.__name__ for cls in tables.public_classes().values()}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_class_is_shown_by_a_page(name: str) -> None:
    text = "\n".join(_pages().values())
    named = set(
        re.findall(r"^\.\. kling-(?:parameters|hook-methods):: (?:[\w.]+\.)?(\w+)\s*$", text, re.MULTILINE)
    )
    patterns = re.findall(r"^\.\. kling-classes:: (.+?)\s*$", text, re.MULTILINE)
    decorated = {cls.__name__ for cls in tables.decorated_operator_classes()}
    if ".. kling-task-decorators::" in text:
        named |= decorated
    assert name in named or any(re.search(pattern, name) for pattern in patterns), (
        f"{name} is on no docs page: add `.. kling-parameters:: {name}` to its family's page"
    )


def _table_line(rows: list[str], name: str) -> str:
    """The parameter's row, its cells joined."""
    start = rows.index(f"   * - ``{name}``")
    end = next((i for i in range(start + 1, len(rows)) if rows[i].startswith("   * -")), len(rows))
    return " ".join(rows[start:end])


def _expected_default(default: Any) -> str:
    return "required" if default is inspect.Parameter.empty else repr(default)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_parameter_is_in_the_generated_table_with_the_codes_default(name: str) -> None:
    cls = PUBLIC[name]
    rows = tables.parameter_rows(tables.parameters(cls))
    own = inspect.signature(cls.__init__).parameters.values()
    checked = [p for p in own if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for param in checked:
        line = _table_line(rows, param.name)
        assert _expected_default(param.default) in line, (name, param.name, line)
        assert param.name in getattr(cls, "template_fields", ()) or "yes" not in line.split(" - ")[3]


def test_every_registered_task_decorator_is_listed_with_what_its_function_returns() -> None:
    from airflow_provider_kling.decorators.kling import required_fields
    from airflow_provider_kling.get_provider_info import get_provider_info

    decorators = {item.name: item for item in tables.task_decorators()}
    assert set(decorators) == {entry["name"] for entry in get_provider_info()["task-decorators"]}
    for item in decorators.values():
        assert item.required == list(required_fields(item.operator))
        assert not set(item.required) & {param.name for param in item.arguments}
    image = decorators["kling_image"]
    assert (image.operator.__name__, image.required) == ("KlingImageGenerationOperator", ["prompt"])
    assert "output_path" in {param.name for param in image.arguments}


def test_a_default_from_airflow_config_is_named_as_such() -> None:
    deferrable = next(
        p for p in tables.parameters(PUBLIC["KlingImageGenerationOperator"]) if p.name == "deferrable"
    )
    assert deferrable.config_default == "``[operators] default_deferrable``"
    assert "[operators] default_deferrable" in deferrable.default_text


def test_every_public_hook_method_and_its_parameters_are_listed() -> None:
    from airflow.sdk import BaseHook

    hook = PUBLIC["KlingHook"]
    # The methods a user calls: those of the package's hook classes (not of the sans-I/O core).
    hook_classes = [
        k for k in hook.__mro__ if issubclass(k, BaseHook) and k.__module__.startswith("airflow_prov")
    ]
    public = {
        name
        for name, member in inspect.getmembers(hook)
        if not name.startswith("_") and callable(member) and any(name in vars(k) for k in hook_classes)
    }
    listed = tables.hook_methods(hook)
    assert public == set(listed), public ^ set(listed)
    for name in public:
        method = listed[name]
        rows = tables.parameter_rows(tables.method_parameters(method), templated_column=False)
        for param in inspect.signature(getattr(hook, name)).parameters.values():
            if param.name in ("self", "cls"):
                continue
            assert _expected_default(param.default) in _table_line(rows, param.name)


def test_every_connection_extra_is_listed_with_the_settings_default() -> None:
    from airflow_provider_kling.hooks import connection

    source = "\n".join(path.read_text(encoding="utf-8") for path in PACKAGE_DIR.rglob("*.py"))
    read = (
        set(re.findall(r"extras\.get\(\"(\w+)\"", source))  # extras.get("x")
        | set(re.findall(r"_extra\(\s*extras,\s*\"(\w+)\"", source))  # some_extra(extras, "x")
        | set(re.findall(r"_extra\(\s*extras,[^()]*?,\s*\"(\w+)\"\s*\)", source))  # (extras, conn_id, "x")
        | set(re.findall(r"def \w+_extra\([^)]*\bname: str = \"(\w+)\"", source, re.DOTALL))  # name="x"
    )
    extras = tables.connection_extras()
    listed = {extra.name for extra in extras} | {alias for extra in extras for alias in extra.also_read_as}
    assert read and read <= listed, read - listed
    defaults = {f.name: f.default for f in fields(connection.KlingConnectionSettings)}
    settings_field = {"tasks_query": "tasks_query_support"}  # extras read into a field of another name
    for extra in extras:
        assert extra.default == defaults.get(settings_field.get(extra.name, extra.name)), extra
        assert extra.description, f"extra {extra.name}: give its settings field a #: comment"
    rows = "\n".join(tables.extra_rows(extras))
    for extra in extras:
        assert f"``{extra.name}``" in rows and f"``{extra.default!r}``" in rows


def test_every_error_is_explained_on_the_troubleshooting_page() -> None:
    from airflow_provider_kling import errors

    classes = [
        value
        for _, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, Exception) and value.__module__ == errors.__name__
    ]
    rows = "\n".join(line for cls in tables.error_classes() for line in tables.error_rows(cls))
    for cls in classes:
        assert (cls.__doc__ or "").strip(), (
            f"{cls.__name__} has no docstring: the troubleshooting page shows it"
        )
        assert f".. _error-{cls.__name__}:" in rows
    assert ".. kling-errors::" in (DOCS / "troubleshooting.rst").read_text(encoding="utf-8")


def test_the_model_tables_are_generated_from_the_code() -> None:
    from airflow_provider_kling.models.capabilities import IMAGE_MODELS, render_model_table
    from airflow_provider_kling.testing import rules

    text = "\n".join(_pages().values())
    assert ".. kling-markdown-table:: airflow_provider_kling.models.capabilities:render_model_table" in text
    assert ".. kling-markdown-table:: airflow_provider_kling.testing.rules:capability_table" in text
    client = "\n".join(tables.markdown_tables_to_rst(render_model_table().splitlines()))
    simulator = "\n".join(tables.markdown_tables_to_rst(rules.capability_table().splitlines()))
    for model in IMAGE_MODELS:
        assert f"   * - ``{model}``" in client
    once = client.count(".. list-table::")
    twice = f"{render_model_table()}\n\nText between.\n\n{render_model_table()}"
    assert "\n".join(tables.markdown_tables_to_rst(twice.splitlines())).count(".. list-table::") == 2 * once
    for model in rules.MODELS:
        assert f"   * - ``{model}``" in simulator


def _documented_keys(page_name: str, label: str) -> set[str]:
    """The keys in the first column of the first list-table after ``.. _label:`` on a page."""
    page = (DOCS / page_name).read_text(encoding="utf-8")
    section = page.split(f".. _{label}:", 1)[1]
    table = re.split(r"\n(?=\S)", section.split(".. list-table::", 1)[1], maxsplit=1)[0]
    rows = re.findall(r"^   \* - (.+)$", table, re.MULTILINE)  # each row's first cell: the keys
    return {key for row in rows[1:] for key in re.findall(r"``(\w+)``", row)}


def _documented_xcom_keys() -> set[str]:
    return _documented_keys("operators/image-generation.rst", "xcom-result")


def test_the_documented_asset_event_extra_is_what_the_code_writes() -> None:
    from airflow_provider_kling.assets import EXTRA_KEYS

    assert _documented_keys("assets-and-lineage.rst", "event-extra") == set(EXTRA_KEYS)


def test_the_documented_xcom_result_is_what_the_operator_returns(
    kling_connection: KlingSimulator, tmp_path: Path
) -> None:
    from airflow.sdk import DAG

    from tests.unit.task_context import make_context

    with DAG("kling_docs_xcom", schedule=None):
        operator = PUBLIC["KlingImageGenerationOperator"](
            task_id="generate", prompt="a lighthouse", output_path=str(tmp_path), poll_interval=0.05
        )

    result = operator.execute(make_context())

    assert set(result) == _documented_xcom_keys()


def test_the_build_fails_on_a_broken_internal_link_and_on_a_class_no_page_shows(tmp_path: Path) -> None:
    import io
    import shutil

    from sphinx.application import Sphinx

    source = tmp_path / "docs"
    source.mkdir()
    shutil.copy(DOCS / "conf.py", source / "conf.py")
    with (source / "conf.py").open("a") as conf:  # links are checked whatever the theme
        conf.write('\nhtml_theme = "basic"\ntemplates_path = []\nhtml_static_path = []\n')
    shutil.copytree(DOCS / "_ext", source / "_ext")
    (source / "index.rst").write_text(
        "Title\n=====\n\nSee :ref:`nowhere` and :doc:`missing`.\n\n.. kling-parameters:: KlingHook\n",
        encoding="utf-8",
    )
    warnings = io.StringIO()

    Sphinx(
        str(source),
        str(source),
        str(tmp_path / "html"),
        str(tmp_path / "doctrees"),
        "html",
        status=None,
        warning=warnings,
        freshenv=True,
    ).build()

    text = warnings.getvalue()
    assert "undefined label: 'nowhere'" in text
    assert "unknown document: 'missing'" in text
    assert "KlingImageGenerationOperator is a public operator that no page shows" in text
    assert "KlingHook is a public" not in text


# -- included files and snippets ------------------------------------------------------------------


def _included() -> set[Path]:
    found = set()
    for page, text in _pages().items():
        for target in re.findall(r"^\.\. literalinclude:: (\S+)", text, re.MULTILINE):
            found.add((page.parent / target).resolve())
    return found


def test_every_included_file_exists_and_every_snippet_is_included_or_in_the_readme() -> None:
    included = _included()
    assert all(path.is_file() for path in included), [str(p) for p in included if not p.is_file()]
    snippets = {path.resolve() for path in SNIPPETS.glob("*.py")}
    assert snippets - included == {(SNIPPETS / "readme_dag.py").resolve()}


def test_every_snippet_has_a_test_here() -> None:
    tested = {
        "hook_usage",
        "hook_endpoint",
        "spend_budget_dag",
        "assets_outlets",
        "test_with_simulator",
        "batch_any_kind",
        "custom_operator",
        "video_chain",
        "model_path_video",
        "decorator_kinds",
    }
    assert {path.stem for path in SNIPPETS.glob("*.py")} == tested | {"readme_dag"}


def test_hook_snippet_downloads_the_images(
    kling_connection: KlingSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    runpy.run_path(str(SNIPPETS / "hook_usage.py"))

    assert sorted(path.name for path in tmp_path.iterdir()) == ["lighthouse_0.png", "lighthouse_1.png"]
    assert (tmp_path / "lighthouse_0.png").read_bytes().startswith(b"\x89PNG")


def test_hook_endpoint_snippet_creates_at_the_endpoints_path(kling_connection: KlingSimulator) -> None:
    kling_connection.set_latency(0.1)

    runpy.run_path(str(SNIPPETS / "hook_endpoint.py"))

    (task,) = kling_connection.tasks()
    assert task["request"]["subject_image_list"] == [{"subject_image": "https://cdn.example.com/shirt.png"}]
    assert task["task_status"] == "succeed"


def test_the_simulator_snippet_passes(kling_connection: KlingSimulator) -> None:
    namespace = runpy.run_path(str(SNIPPETS / "test_with_simulator.py"))

    namespace["test_my_pipeline_pays_once"](kling_connection)


def test_spend_snippet_plans_the_budget_before_the_fan_out() -> None:
    dag = runpy.run_path(str(SNIPPETS / "spend_budget_dag.py"))["kling_spend_budget"]()
    assert {task.task_id for task in dag.tasks} == {"todays_requests", "enough_units", "generate"}
    assert dag.get_task("enough_units").upstream_task_ids == {"todays_requests"}
    assert dag.get_task("generate").upstream_task_ids == {"todays_requests", "enough_units"}

    pushed: dict[str, Any] = {}

    class TaskInstance:
        def xcom_push(self, key: str, value: Any) -> None:
            pushed[key] = value

    admitted = dag.get_task("todays_requests").python_callable(ds="2025-06-01", ti=TaskInstance())

    assert [request["prompt"] for request in admitted] == [
        "A brass desk lamp, catalogue of 2025-06-01",
        "A blue teapot, catalogue of 2025-06-01",
    ]
    assert pushed == {"estimated_units": 8.0, "not_generated": []}


def test_assets_snippet_declares_the_outlets() -> None:
    from airflow.sdk import Asset, AssetAlias

    namespace = runpy.run_path(str(SNIPPETS / "assets_outlets.py"))
    dag = namespace["kling_asset_outlets"]()

    assert dag.get_task("hero").outlets == [Asset("s3://my-bucket/kling")]
    assert dag.get_task("posters").partial_kwargs["outlets"] == [AssetAlias("kling_posters")]


def test_batch_snippet_builds_a_batch_of_another_kind() -> None:
    dag = runpy.run_path(str(SNIPPETS / "batch_any_kind.py"))["kling_try_on_catalogue"]()
    batch = dag.get_task("try_on_catalogue")

    assert (batch.request_kind, batch.slots, batch.on_content_policy) == ("virtual-try-on", 4, "skip")
    assert [item["key"] for item in batch.requests] == ["shirt-1", "shirt-2"]


def test_custom_operator_snippet_builds_its_request_and_refuses_other_arguments(
    kling_connection: KlingSimulator,
) -> None:
    from airflow.sdk import DAG

    namespace = runpy.run_path(str(SNIPPETS / "custom_operator.py"))
    operator_class = namespace["KlingHouseTryOnOperator"]
    with DAG("kling_custom_operator_snippet", schedule=None):
        operator = operator_class(task_id="try_on", cloth_image="https://cdn.example.com/shirt.png")
        with pytest.raises(TypeError, match="negative_prompt"):
            operator_class(task_id="other", cloth_image="https://cdn.example.com/x.png", negative_prompt="x")

    from tests.unit.task_context import make_context

    request = operator.build_request(make_context())
    assert request.external_task_id
    assert request.path == "/v1/images/kolors-virtual-try-on"
    assert request.to_json()["human_image"] == "https://cdn.example.com/house-model.png"
    assert namespace["house_try_on_task"].__doc__.startswith("``@task.house_try_on``")


def test_video_snippet_chains_through_xcom() -> None:
    dag = runpy.run_path(str(SNIPPETS / "video_chain.py"))["kling_video_chain"]()

    assert dag.get_task("clip").upstream_task_ids == {"still"}
    assert dag.get_task("longer").upstream_task_ids == {"clip"}
    assert dag.get_task("longer").request_kind == "video-extend"


def test_decorator_kinds_snippet_runs_each_kinds_operator() -> None:
    from airflow_provider_kling.decorators.kling import returned_fields
    from airflow_provider_kling.decorators.video import KlingPromptOrImageToVideoOperator
    from airflow_provider_kling.operators.endpoints import KlingExpandImageOperator

    dag = runpy.run_path(str(SNIPPETS / "decorator_kinds.py"))["kling_decorator_kinds"]()

    banner, teaser = dag.get_task("banner"), dag.get_task("teaser")
    assert isinstance(banner, KlingExpandImageOperator) and banner.custom_operator_name == "@task.kling_image"
    assert isinstance(teaser, KlingPromptOrImageToVideoOperator) and teaser.upstream_task_ids == {"banner"}
    assert banner.to_aspect_ratio == "21:9"
    # What each function returns is a request its operator takes.
    returned = returned_fields(banner.python_callable(ds="2025-06-01"), "banner", banner.kling_operator)
    assert returned["image"] == "s3://bucket/products/2025-06-01/lamp.png"
    returned = returned_fields(teaser.python_callable({"images": []}), "teaser", teaser.kling_operator)
    assert set(returned) == {"first_frame", "prompt"}


def test_model_path_video_snippet_builds_its_operator() -> None:
    dag = runpy.run_path(str(SNIPPETS / "model_path_video.py"))["kling_model_path_video"]()

    video = dag.get_task("video")
    assert (video.request_kind, video.model_name, video.duration) == ("text2video", "kling-3.0", 8)


def test_arguments_an_operator_refuses_are_not_in_its_table() -> None:
    from airflow.sdk import DAG

    batch = PUBLIC["KlingBatchOperator"]
    refused = {"regenerate_expired", "external_task_id"}  # the single operator's, not the batch's
    listed = {param.name for param in tables.parameters(batch)}
    assert not refused & listed
    for name in refused:
        with DAG(f"kling_refused_{name}", schedule=None), pytest.raises(TypeError, match=name):
            batch(task_id="batch", requests=["a"], slots=1, output_path="/tmp/kling", **{name: None})


def test_every_benchmark_is_on_the_development_page() -> None:
    page = (DOCS / "development.rst").read_text(encoding="utf-8")
    scripts = [path.name for path in (ROOT / "benchmarks").glob("*.py") if not path.name.startswith("_")]
    assert [name for name in scripts if f"benchmarks/{name}" not in page and name != "import_time.py"] == []


# -- the README ------------------------------------------------------------------------------------


def test_readme_is_short_and_its_dag_is_the_tested_snippet() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert blocks == [(SNIPPETS / "readme_dag.py").read_text(encoding="utf-8")]
    namespace = runpy.run_path(str(SNIPPETS / "readme_dag.py"))
    dag = namespace["kling_hero_image"]()
    assert dag.get_task("hero_image").model_name == "kling-v2-1"


def test_readme_links_point_at_files_that_exist() -> None:
    text = README.read_text(encoding="utf-8")
    links = [link for link in re.findall(r"\]\(([^)#]+)\)", text) if "://" not in link]
    assert links
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_readme_names_every_public_operator_and_sensor() -> None:
    text = README.read_text(encoding="utf-8")
    # The classes a DAG uses: not a base other public classes extend, nor a decorator's operator.
    bases = {base for cls in PUBLIC.values() for base in cls.__mro__[1:]}
    decorated = set(tables.decorated_operator_classes())
    operators = [
        name
        for name, cls in PUBLIC.items()
        if tables.kind_of(cls) in ("operator", "sensor")
        and cls not in bases
        and cls not in decorated
        and not cls.__module__.startswith("airflow_provider_kling.decorators")  # a decorator's own
    ]
    missing = [name for name in operators if f"`{name}`" not in text]
    assert missing == [], f"add {missing} to the README's table of operators"
    assert "kling_product_video" in text and "make demo" in text and "make test" in text


def test_readme_says_the_default_host_is_a_reseller_and_which_host_a_kling_key_needs() -> None:
    from airflow_provider_kling.get_provider_info import DEFAULT_BASE_URL

    text = README.read_text(encoding="utf-8")
    assert DEFAULT_BASE_URL in text and "reseller" in text
    assert "https://api-singapore.klingai.com" in text


def test_the_simulator_fixtures_are_opt_in() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "pytest11" not in pyproject["project"].get("entry-points", {})
    conftest = (ROOT / "tests" / "conftest.py").read_text(encoding="utf-8")
    assert 'pytest_plugins = ("airflow_provider_kling.testing.pytest_plugin",)' in conftest


def test_changelog_is_keep_a_changelog_with_unreleased_changes_under_headings() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## ", 1)[0]
    headings = re.findall(r"^### (\w+)$", unreleased, re.MULTILINE)
    assert "Keep a Changelog" in text
    assert set(headings) <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    assert re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.MULTILINE)


def test_the_changelog_page_renders_changelog_md_as_sections_lists_and_code() -> None:
    assert ".. kling-markdown-file:: ../CHANGELOG.md" in (DOCS / "changelog.rst").read_text(encoding="utf-8")
    assert "changelog" in (DOCS / "index.rst").read_text(encoding="utf-8").split()
    markdown = (
        "# Log\n\n## [1.0] - 2026\n\n### Added\n\n- **`KlingHook`**: `a`s and *b* [c_d](https://x/)\n  more\n"
    )
    assert tables.markdown_to_rst(markdown) == [
        "Log",
        "===",
        "",
        "[1.0] - 2026",
        "------------",
        "",
        "Added",
        "~~~~~",
        "",
        "- ``KlingHook``: ``a``\\ s and *b* `c\\_d <https://x/>`__ more",
        "",
    ]


# -- names in messages ------------------------------------------------------------------------------

CALL = re.compile(r"\b([A-Z]\w+)\((\w+)=")


def _string_parts(path: Path) -> list[str]:
    """The text of every string literal of a module, f-strings' literal parts included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def _package_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        module = importlib.import_module(name)
        for attr, value in inspect.getmembers(module, inspect.isclass):
            if value.__module__.startswith("airflow_provider_kling"):
                found.setdefault(attr, value)
    return found


def _arguments(cls: type) -> set[str]:
    names = {p for p in inspect.signature(cls).parameters if p not in ("args", "kwargs")}
    if tables.kind_of(cls) is not None:
        names |= {param.name for param in tables.parameters(cls)}
    return names


def named_calls_that_do_not_exist(texts: list[str], classes: dict[str, type]) -> list[str]:
    wrong = []
    for text in texts:
        for class_name, argument in CALL.findall(text):
            cls = classes.get(class_name)
            if cls is not None and argument not in _arguments(cls):
                wrong.append(f"{class_name}({argument}=...)")
    return wrong


def test_the_scan_catches_a_wrong_argument() -> None:
    classes = {"KlingTaskSensor": PUBLIC["KlingTaskSensor"]}
    message = "wait for it with KlingTaskSensor(task_id='8675309')"

    assert named_calls_that_do_not_exist([message], classes) == ["KlingTaskSensor(task_id=...)"]
    assert named_calls_that_do_not_exist([message.replace("task_id", "kling_task_id")], classes) == []


def test_messages_and_docs_name_arguments_as_the_code_spells_them() -> None:
    texts = [part for path in sorted(PACKAGE_DIR.rglob("*.py")) for part in _string_parts(path)]
    texts += [README.read_text(encoding="utf-8"), *_pages().values()]

    assert named_calls_that_do_not_exist(texts, _package_classes()) == []


def test_no_docstring_points_to_a_readme_section() -> None:
    # The README is short now; what it once explained is in docs/.
    texts = {path: path.read_text(encoding="utf-8") for path in sorted(PACKAGE_DIR.rglob("*.py"))}
    assert [str(path) for path, text in texts.items() if "README" in text] == []


def test_the_timeout_message_points_to_the_sensor_by_its_real_argument() -> None:
    from airflow_provider_kling.lifecycle.poll import deadline_error

    message = str(deadline_error("8675309", "processing", 1800.0))

    assert "KlingTaskSensor(kling_task_id='8675309')" in message


# -- folding changelog fragments ----------------------------------------------------------------------


def test_fold_changes_puts_each_fragment_bullet_under_its_heading_of_the_release(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import fold_changes

    (tmp_path / "changes").mkdir()
    (tmp_path / "changes" / "video.md").write_text(
        "### Added\n- Video operators,\n  on the one base.\n\n### Changed\n- Renamed a thing.\n",
        encoding="utf-8",
    )
    (tmp_path / "changes" / "video-docs.md").write_text("## Video\nprose\n", encoding="utf-8")
    (tmp_path / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-12-03\n\nThe first release.\n\n"
        "### Added\n\n- The provider.\n\n[0.1.0]: https://example.invalid\n",
        encoding="utf-8",
    )

    assert fold_changes.main(["--section", "0.1.0", "--only", "Added", "--root", str(tmp_path)]) == 0

    text = (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "### Added\n\n- The provider.\n- Video operators,\n  on the one base.\n\n[0.1.0]:" in text
    assert "The first release.\n\n### Added" in text and "Renamed" not in text
    assert text.split("## [Unreleased]", 1)[1].startswith("\n\n## [0.1.0]")
    assert [p.name for p in (tmp_path / "changes").iterdir()] == ["video-docs.md"]


def test_the_video_decorators_table_takes_no_description_from_another_kind() -> None:
    """Bug 4: the table borrowed the expand, omni-image and batch operators' texts for ``image``,
    ``prompt`` and ``model_name``."""
    (video,) = [item for item in tables.task_decorators() if item.name == "kling_video"]
    text = "\n".join(tables.parameter_rows(video.arguments))
    for borrowed in ("The image to expand", "What to paint in the new area", "Model of every item"):
        assert borrowed not in text
    described = {param.name: param.description for param in video.arguments}
    assert described["first_frame"] and described["model_name"]


def _declared_texts(cls: type, name: str) -> set[str]:
    """Where a description of ``cls``'s ``name`` may come from: its kinds' request models, its own
    classes' docstrings, and the docstrings of the operators that declare its kinds."""
    from airflow_provider_kling.models.requests import REQUEST_KINDS

    kinds = getattr(cls, "request_kinds", None) or (
        vars(cls).get("request_kind") or getattr(cls, "request_kind", None),
    )
    texts = set()
    for kind in kinds:
        info = getattr(REQUEST_KINDS.get(kind), "model_fields", {}).get(name)
        if info is not None and info.description:
            texts.add(info.description)
    homes = [*cls.__mro__, *(other for other in PUBLIC.values() if vars(other).get("request_kind") in kinds)]
    for home in homes:
        text = tables.param_docs(home.__doc__).get(name)
        if text:
            texts.add(text)
    return texts


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_request_argument_is_described_by_its_own_kinds_declaration_only(name: str) -> None:
    cls = PUBLIC[name]
    for param in tables.parameters(cls):
        if param.name in getattr(cls, "request_arguments", ()) and param.description:
            assert param.description in _declared_texts(cls, param.name), (name, param.name)


def test_a_request_table_says_which_api_style_takes_each_field_and_what_it_means() -> None:
    from airflow_provider_kling.models.requests import REQUEST_KINDS, kind_table

    model = REQUEST_KINDS["image2video"]
    rows = tables.request_field_rows(model)
    assert "     - API styles" in rows and "     - meaning" in rows
    for row in kind_table("image2video"):
        line = _table_line(rows, row["name"])
        assert ", ".join(row["styles"]) in line
        assert tables.one_line(row["description"]) in line
    assert "API styles" not in "\n".join(tables.request_field_rows(REQUEST_KINDS["expand"]))
