"""`nsinspect-server`: placeholder until the server lands (issue K)."""


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("nsinspect-server: not built yet")
