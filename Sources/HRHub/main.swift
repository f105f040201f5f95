print("hrhub")
