"""Broken: a 5 MB line of output and a 10 MB exception message in every check."""


async def hello(name: str = "world") -> str:
    print("y" * 5_000_000)
    raise ValueError("z" * 10_000_000)


def main() -> str:
    print("y" * 5_000_000)
    raise ValueError("z" * 10_000_000)
