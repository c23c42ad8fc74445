"""Version of mimocorb; the parts are exposed as mimocorb.major/minor/revision/suffix (compat-api §1)."""

major = 1
minor = 1
revision = 0
suffix = ""


def _get_version_tuple() -> tuple[int, int, int, str]:
    return major, minor, revision, suffix


def _get_version_string() -> str:
    return f"{major}.{minor}.{revision}{suffix}"


__version__ = _get_version_string()
