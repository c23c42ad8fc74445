"""`file_name` naming an importable module instead of a file: the package's own functions in a setup."""

from __future__ import annotations

import sys

from cfg_project import CHAIN_MODULE, Project

from mimocorb.io import record_parquet

BUILTIN_SINK = "file_name: mimocorb.io, fkt_name: record_parquet"


def _chain_with_builtin_sink(project: Project, sink_fields: str = BUILTIN_SINK, tail: str = "") -> None:
    project.write("modules/chain.py", CHAIN_MODULE)
    project.write(
        project.setup.name,
        "RingBuffer:\n"
        "  - RB_1: {number_of_slots: 4, channel_per_slot: 1, data_type: {1: [x, int32]}}\n"
        "Functions:\n"
        "  - Fkt_main:\n"
        "  - Fkt_1: {file_name: modules/chain, fkt_name: source, num_process: 1, RB_assign: {RB_1: write}}\n"
        f"  - Fkt_2: {{{sink_fields}, num_process: 1, RB_assign: {{RB_1: read}}}}\n"
        "FunctionConfigs:\n  source: {}\n" + tail,
    )


def test_a_dotted_module_name_resolves_to_the_installed_function(project: Project) -> None:
    _chain_with_builtin_sink(project, tail="  record_parquet: {}\n")
    setup = project.validate()
    sink = setup.functions[1]
    assert sink.function is record_parquet
    assert sink.module_name == "mimocorb.io"
    assert sink.module.base == "import"
    assert "Fkt_2: record_parquet from mimocorb.io x1" in setup.summary()


def test_its_check_config_reports_with_the_setup_line(project: Project) -> None:
    _chain_with_builtin_sink(project, tail="  record_parquet: {}\n  replay: {timing: fast}\n")
    project.edit_setup(
        "file_name: modules/chain, fkt_name: source", "file_name: mimocorb.io, fkt_name: replay"
    )
    line = project.setup_line("fkt_name: replay")
    report = str(project.failure())
    assert f"{project.setup.name}:{line}: Functions[1].Fkt_1.fkt_name: config of 'replay'" in report
    assert "config key 'path' is required" in report


def test_a_misspelt_function_gets_a_suggestion(project: Project) -> None:
    _chain_with_builtin_sink(project, "file_name: mimocorb.io, fkt_name: record_parqet")
    line = project.setup_line("record_parqet")
    assert (
        f"{project.setup.name}:{line}: Functions[2].Fkt_2.fkt_name: module 'mimocorb.io' has no function "
        "'record_parqet'; did you mean 'record_parquet'?"
    ) in str(project.failure())


def test_a_module_that_does_not_exist_is_named(project: Project) -> None:
    _chain_with_builtin_sink(project, "file_name: mimocorb.nosuch, fkt_name: record_parquet")
    report = str(project.failure())
    assert "Functions[2].Fkt_2.file_name: module file 'mimocorb.nosuch.py' not found" in report
    assert "and no importable module 'mimocorb.nosuch'" in report


def test_a_module_failing_at_import_shows_the_reason(project: Project) -> None:
    project.write("lab/broken_driver.py", "import no_such_vendor_library\n")
    sys.path.append(str(project.root / "lab"))  # undone by the conftest
    _chain_with_builtin_sink(project, "file_name: broken_driver, fkt_name: source")
    report = str(project.failure())
    assert "importing module 'broken_driver' failed: ModuleNotFoundError: No module named" in report
    assert "no_such_vendor_library" in report


def test_check_config_may_take_the_buffer_sizes(project: Project) -> None:
    """A third parameter of check_config receives the values per slot, in the order of the dtypes."""
    seen = project.write(
        "modules/sized.py",
        CHAIN_MODULE
        + "\n\ndef check(config_dict, buffers, values_per_slot):\n"
        + "    raise ValueError(f'sizes {values_per_slot}')\n\n\nsink.check_config = check\n",
    )
    assert seen.is_file()
    _chain_with_builtin_sink(project, "file_name: modules/sized, fkt_name: sink")
    assert "sizes {'read': [1], 'write': [], 'observe': []}" in str(project.failure())
