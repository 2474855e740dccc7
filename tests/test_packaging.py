"""Shipped data: the corpus and configs inside a built wheel, and ``-c NAME`` / ``config list|show``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.errors import ConfigError
from evalharness.paths import bundled_configs, bundled_configs_dir, bundled_corpora_dir, resolve_config_path
from evalharness.runs.config import load_config
from tests.conftest import CORPUS_NAME, REPO

SHIPPED_CONFIGS = sorted(p.stem for p in (REPO / "configs").glob("*.yaml"))  # every config in the checkout ships


def _python(args: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built as a wheel, from a copy of the source (so nothing is written into the repository)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for folder in ("evalharness", "corpora", "configs"):
        shutil.copytree(REPO / folder, src / folder, ignore=ignore)
    dist = tmp / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("evalharness-*.whl")
    unpacked = tmp / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    return unpacked


@pytest.fixture
def wheel_env(unpacked_wheel: Path, cli_env: dict[str, str]) -> dict[str, str]:
    """Environment that imports evalharness from the unpacked wheel, with no corpus search path set."""
    env = dict(cli_env, PYTHONPATH=str(unpacked_wheel))
    env.pop("EVALHARNESS_CORPORA", None)
    return env


@pytest.mark.slow
def test_wheel_holds_every_module_and_the_shipped_data(unpacked_wheel: Path) -> None:
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "evalharness").rglob("*.py")}
    shipped = {p.relative_to(unpacked_wheel).as_posix() for p in unpacked_wheel.rglob("*") if p.is_file()}
    assert modules - shipped == set(), "a subpackage is missing from [tool.setuptools] packages in pyproject.toml"
    data = "evalharness/_data"
    for name in ("corpus.json", "pairs.jsonl", "excluded.jsonl", "README.md"):
        assert f"{data}/corpora/{CORPUS_NAME}/{name}" in shipped
    assert {f"{data}/configs/{name}.yaml" for name in SHIPPED_CONFIGS} <= shipped
    assert (unpacked_wheel / data / "configs" / "default.yaml").read_bytes() == (
        REPO / "configs" / "default.yaml").read_bytes()


@pytest.mark.slow
def test_wheel_finds_corpus_and_configs_without_a_checkout(unpacked_wheel: Path, wheel_env: dict[str, str],
                                                           tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"  # no corpora/ or configs/ here
    elsewhere.mkdir()
    where = _python(["-c", "import evalharness, evalharness.paths as p; print(evalharness.__file__); "
                           "print(p.bundled_corpora_dir()); print(p.bundled_configs_dir())"],
                    cwd=elsewhere, env=wheel_env)
    assert where.returncode == 0, where.stderr
    package, corpora, configs = (Path(line) for line in where.stdout.splitlines())
    # The unpacked wheel, not the editable install of the checkout the tests run from.
    assert package.resolve().is_relative_to(unpacked_wheel.resolve()), package
    assert corpora == (unpacked_wheel / "evalharness" / "_data" / "corpora").resolve()
    assert configs == (unpacked_wheel / "evalharness" / "_data" / "configs").resolve()

    listed = _python(["-m", "evalharness", "corpus", "list"], cwd=elsewhere, env=wheel_env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(f"{CORPUS_NAME}\tv1.0.0\t29 pairs\t{corpora / CORPUS_NAME}\t"), listed.stdout

    shown = _python(["-m", "evalharness", "config", "show", "default"], cwd=elsewhere, env=wheel_env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")

    names = _python(["-m", "evalharness", "config", "list"], cwd=elsewhere, env=wheel_env)
    assert [line.split("\t")[0] for line in names.stdout.splitlines()] == SHIPPED_CONFIGS


@pytest.mark.slow
def test_wheel_runs_a_shipped_config_by_name(wheel_env: dict[str, str], tmp_path: Path) -> None:
    run = _python(["-m", "evalharness", "run", "-c", "default", "--set", "systems=[{name: floor, backend: copy}]",
                   "--set", "statistics.resamples=100", "--run-dir", str(tmp_path / "run"), "-q"],
                  cwd=tmp_path, env=wheel_env)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "run" / "results.json").is_file()


def test_checkout_uses_the_top_level_folders() -> None:
    assert bundled_corpora_dir() == REPO / "corpora"
    assert bundled_configs_dir() == REPO / "configs"
    assert list(bundled_configs()) == SHIPPED_CONFIGS


def test_config_name_resolves_to_the_shipped_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path(Path("default")) == REPO / "configs" / "default.yaml"
    config = load_config(Path("nllb"))
    assert [s.name for s in config.systems] == ["nllb-200-distilled-600M"]
    # An existing file of that name wins over the shipped config.
    (tmp_path / "default").write_text("systems: [{name: mine, backend: copy}]\n", encoding="utf-8")
    assert resolve_config_path(Path("default")) == Path("default")
    assert [s.name for s in load_config(Path("default")).systems] == ["mine"]


@pytest.mark.parametrize("name", ["defualt", "configs/nope.yaml"])
def test_unknown_config_name_is_one_line_listing_the_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str], name: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="not the name of a shipped config"):
        resolve_config_path(Path(name))
    assert main(["run", "-c", name, "--run-dir", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{name}: config file not found" in err and f"shipped configs: {', '.join(SHIPPED_CONFIGS)}" in err
    if name == "defualt":
        assert "did you mean 'default'?" in err
    assert not (tmp_path / "out").exists()
    assert main(["config", "show", name]) == 2


def test_config_list_and_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["config", "list"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(name, path) for name, path, _ in rows] == [(n, str(REPO / "configs" / f"{n}.yaml"))
                                                       for n in SHIPPED_CONFIGS]
    assert {name: about for name, _, about in rows}["default"].startswith("Default benchmark")
    assert main(["config", "show", "ci-example"]) == 0
    assert capsys.readouterr().out == (REPO / "configs" / "ci-example.yaml").read_text(encoding="utf-8")
    mine = tmp_path / "mine.yaml"
    mine.write_text("systems: [{name: mine, backend: copy}]\n", encoding="utf-8")
    assert main(["config", "show", str(mine)]) == 0
    assert capsys.readouterr().out == mine.read_text(encoding="utf-8")



@pytest.mark.slow
def test_wheel_runs_the_demo_config_after_demo_in_an_empty_folder(wheel_env: dict[str, str], tmp_path: Path) -> None:
    """After `evalharness demo` in a folder, `evalharness run -c demo` there finds the model: the shipped config
    names no repository path."""
    folder = tmp_path / "empty"
    folder.mkdir()
    demo = _python(["-m", "evalharness", "demo", "-q"], cwd=folder, env=wheel_env)
    assert demo.returncode == 0, demo.stderr
    run = _python(["-m", "evalharness", "run", "-c", "demo", "--set", "statistics.resamples=100", "--run-dir",
                   str(folder / "again"), "-q"], cwd=folder, env=wheel_env)
    assert run.returncode == 0, run.stderr
    assert (folder / "again" / "results.json").is_file()
