"""Version of mimocorb; as in mimoCoRB 1.0.2, the parts are mimocorb.major/minor/revision/suffix."""

major = 1
minor = 1
revision = 0
suffix = ""


def _get_version_tuple() -> tuple[int, int, int, str]:
    return major, minor, revision, suffix


def _get_version_string() -> str:
    return f"{major}.{minor}.{revision}{suffix}"


__version__ = _get_version_string()
