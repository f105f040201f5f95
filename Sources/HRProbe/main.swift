print("hrprobe")
