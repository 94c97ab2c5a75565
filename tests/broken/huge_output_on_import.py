print("x" * 5_000_000)  # 5 MB as soon as the file is imported
