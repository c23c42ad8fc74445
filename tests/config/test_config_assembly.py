"""config_dict assembly and run limits, including empty Fkt_main, common files and sections."""

from __future__ import annotations

import pytest
from cfg_project import CHAIN_MODULE, Project, chain_setup


@pytest.fixture
def chain(project: Project) -> Project:
    project.write("modules/chain.py", CHAIN_MODULE)
    return project


COMMON = "general:\n  base: &base {gain: 2}\nsource: {from: common, nested: *base}\nsink: {from: common}\n"
OWN = "from: own\n"
FUNCTION_CONFIGS = "FunctionConfigs:\n  source: {from: FunctionConfigs}\n  sink: {from: FunctionConfigs}\n"


@pytest.mark.parametrize(
    ("own", "common", "function_configs", "origin", "expected"),
    [
        (True, True, True, "config_file", {"from": "own"}),
        (False, True, True, "common", {"from": "common", "nested": {"gain": 2}}),
        (False, False, True, "FunctionConfigs", {"from": "FunctionConfigs"}),
        (True, False, False, "config_file", {"from": "own"}),
    ],
)
def test_first_source_wins_and_replaces_the_whole_dict(
    chain: Project, own: bool, common: bool, function_configs: bool, origin: str, expected: dict
) -> None:
    chain.write("cfg/common.yaml", COMMON if common else "general: {}\n")
    chain.write("cfg/own.yaml", OWN)
    chain.write(
        "setup.yaml",
        chain_setup(
            main=" {config_file: cfg/common.yaml}",
            source=", config_file: cfg/own.yaml" if own else "",
            tail=FUNCTION_CONFIGS if function_configs else "",
        ),
    )
    source = chain.validate().functions[0]
    assert (source.config_origin, source.config_dict) == (origin, expected)
    assert type(source.config_dict) is dict and "directory_prefix" not in source.config_dict


def test_no_config_anywhere_gives_empty_dict_and_a_warning(chain: Project) -> None:
    chain.write("setup.yaml", chain_setup(tail="FunctionConfigs:\n  sink: {a: 1}\n"))
    setup = chain.validate()
    source, sink = setup.functions
    assert (source.config_dict, source.config_origin, source.config_path) == ({}, "none", None)
    assert (sink.config_origin, sink.config_path) == ("FunctionConfigs", chain.setup)
    (warning,) = setup.warnings
    assert str(warning) == (
        "setup.yaml:5: warning: Functions[1].Fkt_1: no configuration found for function 'source'; it gets "
        "an empty config_dict (expected a config_file, a section in the common config file or a "
        "FunctionConfigs entry)"
    )


def test_general_overrides_run_limits_of_fkt_main(chain: Project) -> None:
    chain.write("cfg/common.yaml", "general: {runevents: 50}\nsource: {}\nsink: {}\n")
    chain.write(
        "setup.yaml", chain_setup(main=" {runtime: 10, runevents: 100, config_file: cfg/common.yaml}")
    )
    setup = chain.validate()
    assert (setup.runtime, setup.runevents) == (10, 50)
    chain.write("cfg/common.yaml", "general: {runtime: 2.5}\nsource: {}\nsink: {}\n")
    setup = chain.validate()
    assert (setup.runtime, setup.runevents) == (2.5, 100)


def test_empty_fkt_main_and_no_common_file_are_accepted(chain: Project) -> None:
    chain.write("setup.yaml", chain_setup(tail="FunctionConfigs:\n  source:\n  sink: {}\n"))
    setup = chain.validate()
    assert (setup.runtime, setup.runevents, setup.common_config_file, setup.config_files) == (0, 0, None, ())
    assert setup.warnings == ()
    assert [(f.config_dict, f.config_origin) for f in setup.functions] == [
        ({}, "FunctionConfigs"),
        ({}, "FunctionConfigs"),
    ]


def test_common_file_without_general_and_empty_sections_are_accepted(chain: Project) -> None:
    chain.write("cfg/common.yaml", "source:\nsink: {a: 1}\n")
    chain.write("cfg/empty.yaml", "")
    chain.write(
        "setup.yaml",
        chain_setup(main=" {config_file: cfg/common.yaml}", sink=", config_file: cfg/empty.yaml"),
    )
    setup = chain.validate()
    assert [(f.config_dict, f.config_origin) for f in setup.functions] == [
        ({}, "common"),
        ({}, "config_file"),
    ]
    assert setup.warnings == ()


def test_functions_sharing_a_name_get_equal_but_separate_dicts(chain: Project) -> None:
    extra = "  - Fkt_3: {file_name: modules/chain, fkt_name: sink, num_process: 3, RB_assign: {RB_1: read}}\n"
    chain.write(
        "setup.yaml", chain_setup(tail=extra + "FunctionConfigs:\n  source: {}\n  sink: {deep: {n: 1}}\n")
    )
    _, first, second = chain.validate().functions
    assert first.config_dict == second.config_dict == {"deep": {"n": 1}}
    assert first.config_dict is not second.config_dict
    assert first.config_dict["deep"] is not second.config_dict["deep"]


def test_unused_function_configs_entry_is_a_warning_with_suggestion(chain: Project) -> None:
    chain.write("setup.yaml", chain_setup(tail="FunctionConfigs:\n  source: {}\n  sink: {}\n  sinc: {}\n"))
    (warning,) = chain.validate().warnings
    assert (
        str(warning)
        == "setup.yaml:10: warning: FunctionConfigs.sinc: no function is named 'sinc'; did you mean 'sink'?"
    )


def test_config_files_to_copy_are_listed_once_common_first(chain: Project) -> None:
    common = chain.write("cfg/common.yaml", "source: {}\n")
    own = chain.write("cfg/own.yaml", OWN)
    extra = "  - Fkt_3: {file_name: modules/chain, fkt_name: sink, num_process: 1, RB_assign: {RB_1: read}, "
    extra += "config_file: cfg/own.yaml}\n"
    chain.write(
        "setup.yaml",
        chain_setup(main=" {config_file: cfg/common.yaml}", sink=", config_file: cfg/own.yaml", tail=extra),
    )
    assert chain.validate().config_files == (common, own)


def test_config_files_with_the_same_base_name_are_warned_about(chain: Project) -> None:
    chain.write("a/conf.yaml", OWN)
    chain.write("b/conf.yaml", OWN)
    chain.write(
        "setup.yaml", chain_setup(source=", config_file: a/conf.yaml", sink=", config_file: b/conf.yaml")
    )
    (warning,) = chain.validate().warnings
    assert "have the same name; the run directory can keep only one copy" in warning.message


def test_common_file_sections_are_free_form(chain: Project) -> None:
    chain.write(
        "cfg/common.yaml", "general:\n  1: numbered anchor\n  runtime: 3\n7: {x: 1}\nsource: {2: two}\n"
    )
    chain.write(
        "setup.yaml",
        chain_setup(main=" {config_file: cfg/common.yaml}", tail="FunctionConfigs: {sink: {}}\n"),
    )
    setup = chain.validate()
    assert setup.functions[0].config_dict == {2: "two"} and setup.runtime == 3.0
