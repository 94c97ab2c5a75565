import asyncio

ready = False
while not ready:  # nothing ever sets ready: importing this file never ends
    pass
