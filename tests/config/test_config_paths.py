"""Path resolution (CWD first, then the setup file's directory) and importing of user modules."""

from __future__ import annotations

import importlib
import sys

import pytest
from cfg_project import CHAIN_MODULE, Project, chain_setup, function_source

from mimocorb.config import validate_setup


@pytest.fixture
def chain(project: Project) -> Project:
    project.write("modules/chain.py", CHAIN_MODULE)
    project.write("cfg/common.yaml", "source: {}\nsink: {}\n")
    project.write("setup.yaml", chain_setup(main=" {config_file: cfg/common.yaml}"))
    return project


def test_relative_paths_fall_back_to_the_setup_directory(
    chain: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    setup = validate_setup(chain.setup, cwd=elsewhere)
    assert setup.functions[0].module.base == "setup_dir"
    assert setup.functions[0].module.path == chain.root / "modules" / "chain.py"
    assert setup.common_config_file is not None and setup.common_config_file.base == "setup_dir"
    assert (setup.output_directory.base, setup.output_directory.path) == ("cwd", elsewhere / "target")


def test_current_directory_wins_when_the_file_exists_in_both(
    chain: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "modules").mkdir()
    (elsewhere / "modules" / "chain.py").write_text(CHAIN_MODULE, encoding="utf-8")
    (elsewhere / "target").mkdir()
    setup = validate_setup(chain.setup, cwd=elsewhere)
    assert setup.functions[0].module.path == elsewhere / "modules" / "chain.py"
    assert setup.functions[0].module.base == "cwd"
    assert setup.common_config_file is not None and setup.common_config_file.base == "setup_dir"
    assert setup.output_directory.path == elsewhere / "target"


def test_existing_output_directory_next_to_the_setup_is_used(
    chain: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (chain.root / "runs").mkdir()
    chain.write("setup.yaml", "output_directory: runs\n" + chain.setup.read_text(encoding="utf-8"))
    setup = validate_setup(chain.setup, cwd=tmp_path_factory.mktemp("elsewhere"))
    assert (setup.output_directory.base, setup.output_directory.path) == ("setup_dir", chain.root / "runs")


def test_output_directory_that_is_a_file_is_an_error(chain: Project) -> None:
    chain.write("target", "not a directory")
    assert "output_directory: expected a directory, found the file" in str(chain.failure())


def test_absolute_paths_are_used_as_given(chain: Project) -> None:
    module = chain.root / "modules" / "chain"
    chain.write("setup.yaml", chain_setup(main=f" {{config_file: {chain.root / 'cfg' / 'common.yaml'}}}"))
    chain.edit_setup("file_name: modules/chain, fkt_name: source", f"file_name: {module}, fkt_name: source")
    setup = chain.validate()
    assert (setup.functions[0].module.base, setup.functions[1].module.base) == ("absolute", "cwd")
    assert setup.common_config_file is not None and setup.common_config_file.base == "absolute"


def test_relative_setup_path_resolves_against_cwd(chain: Project) -> None:
    setup = validate_setup("setup.yaml", cwd=chain.root)
    assert setup.setup_file == chain.setup and setup.cwd == chain.root


def test_missing_setup_file_is_file_not_found(chain: Project) -> None:
    with pytest.raises(FileNotFoundError, match=r"setup file does not exist: 'nothing\.yaml'"):
        validate_setup("nothing.yaml", cwd=chain.root)


def test_sibling_import_works_and_modules_stay_importable(project: Project) -> None:
    project.write("mods/helpers_for_chain.py", "OFFSET = 7\n")
    project.write(
        "mods/chain.py",
        "from helpers_for_chain import OFFSET\n\n\n" + function_source("source") + function_source("sink"),
    )
    project.write(
        "setup.yaml",
        chain_setup(tail="FunctionConfigs: {source: {}, sink: {}}\n").replace("modules/", "mods/"),
    )
    setup = project.validate()
    assert str(project.root / "mods") in sys.path
    module = importlib.import_module("chain")
    assert module.OFFSET == 7 and setup.functions[0].function is module.source
    assert setup.functions[0].module_name == "chain"


def test_module_imported_once_and_reused_for_the_same_file(chain: Project) -> None:
    chain.write("modules/chain.py", "COUNT = []\nCOUNT.append(1)\n" + CHAIN_MODULE)
    first = chain.validate()
    second = chain.validate()
    assert first.functions[0].function is second.functions[0].function
    assert importlib.import_module("chain").COUNT == [1]


def test_failed_import_leaves_no_half_module_behind(chain: Project) -> None:
    chain.write("modules/chain.py", "raise ImportError('needs the scope driver')\n")
    assert "ImportError: needs the scope driver" in str(chain.failure())
    assert "chain" not in sys.modules


def test_package_as_module(chain: Project) -> None:
    chain.write("modules/chainpkg/__init__.py", "from .parts import source, sink  # noqa: F401\n")
    chain.write("modules/chainpkg/parts.py", CHAIN_MODULE)
    chain.write(
        "setup.yaml",
        chain_setup(main=" {config_file: cfg/common.yaml}").replace("modules/chain", "modules/chainpkg"),
    )
    setup = chain.validate()
    assert setup.functions[0].module.path == chain.root / "modules" / "chainpkg" / "__init__.py"
    assert importlib.import_module("chainpkg.parts").source is setup.functions[0].function
