import time


def fetch_data(delay: float = 2.0) -> str:  # a plain function, not a coroutine function
    time.sleep(delay)
    return "Data fetched!"
