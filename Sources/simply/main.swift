print("simply")
