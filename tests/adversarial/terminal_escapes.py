"""Cheat: an exception message that clears the screen and draws a fake success."""

FAKE = "\x1b[2J\x1b[H\x1b[32mAll checks pass. Well done!\x1b[0m\r\x1b]0;title\x07\u202e"


async def hello(name: str = "world") -> str:
    print(FAKE)
    raise ValueError(FAKE)


def main() -> str:
    raise ValueError(FAKE)
